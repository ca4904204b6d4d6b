/**
 * `npm run bench:raft`: a local 3-node cluster on loopback (real processes, real fsync) running the
 * Raft layer with a no-op state machine, driven by the leader's bounded load generator
 * (--test-hooks). Measures, in one run:
 *   - committed entries/s and commit latency (propose -> applied on the leader) for 300-byte
 *     entries at batch sizes 1 and 64 per proposal;
 *   - the WAL engine's own group-commit ceiling on the same disk (appendEncoded + one fdatasync per
 *     64-record batch), so that the Raft figure can be read as a share of it;
 *   - a failover drill: `kill -9` of the leader, N times, timing kill -> first commit under the new
 *     leader (median, p99, max); the killed node is restarted and caught up before the next round.
 * Options: --kills N (default 20), --json FILE, --log-level L (nodes log at L, and a slow failover
 * prints their last lines). Bounded: every wait has a deadline.
 *
 * Runs on: the bench process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterNodes } from '../test/support/cluster-nodes.js';
import { createTestCluster, killStartedProcesses, removeTestCluster } from '../test/support/test-cluster.js';
import { defaultBounds, engineEncodedRun } from './wal-measure.js';

const ids = ['n1', 'n2', 'n3'];
const payloadBytes = 300;
const killsDefault = 20;
/** A failover that takes longer than this is a failed round (reported, not hidden). */
const failoverDeadlineMs = 10_000;
/** With --log-level, a failover slower than this prints the nodes' last log lines. */
const slowFailoverMs = 200;

function option(name: string): string | undefined {
  const position = process.argv.indexOf(name);
  return position === -1 ? undefined : process.argv[position + 1];
}

interface LoadFigures { entriesPerSecond: number; latencyMsP50: number; latencyMsP99: number; committed: number; lastIndex: number; ok: boolean; error?: string }

async function load(nodes: ClusterNodes, leader: string, entries: number, batch: number, inflight: number): Promise<LoadFigures> {
  const response = await fetch(`${nodes.opsUrl(leader)}/debug/raft-load`, {
    method: 'POST', body: JSON.stringify({ entries, batch, payloadBytes, inflight, timeoutMs: 60_000 }), signal: AbortSignal.timeout(70_000),
  });
  return await response.json() as LoadFigures;
}

/** Kill -9 of the leader, then the time until one entry commits under a new leader. */
async function failoverRound(nodes: ClusterNodes): Promise<{ ms: number; from: string; to: string }> {
  const leader = await nodes.leaderAgreedBy(ids, 15_000);
  await nodes.allLinksUp(ids);
  const survivors = ids.filter((id) => id !== leader.node);
  const killedAt = performance.now();
  const killed = nodes.kill9(leader.node);
  const deadline = killedAt + failoverDeadlineMs;
  // Bounded by the deadline: ask each survivor to commit one entry until one of them, as the new
  // leader, does. A survivor that is not (yet) the leader refuses at once.
  while (performance.now() < deadline) {
    for (const id of survivors) {
      try {
        const response = await fetch(`${nodes.opsUrl(id)}/debug/raft-load`, {
          method: 'POST', body: JSON.stringify({ entries: 1, batch: 1, payloadBytes, inflight: 1, timeoutMs: 2_000 }), signal: AbortSignal.timeout(3_000),
        });
        const result = await response.json() as { ok?: boolean };
        if (result.ok === true) {
          const ms = performance.now() - killedAt;
          await killed;
          return { ms, from: leader.node, to: id };
        }
      } catch { /* not answering yet */ }
    }
  }
  throw new Error(`no commit under a new leader within ${failoverDeadlineMs} ms of killing ${leader.node}`);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const kills = Number(option('--kills') ?? killsDefault);
  if (!Number.isSafeInteger(kills) || kills < 1 || kills > 200) throw new Error('--kills must be 1..200');
  const cluster = await createTestCluster({ nodeCount: 3, logLevel: option('--log-level') ?? 'warn' });
  const nodes = new ClusterNodes(cluster);
  const started = new Date().toISOString();
  try {
    console.log(`# Raft bench — ${started}`);
    console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), 3 nodes on loopback, fsync always, ${payloadBytes}-byte entries\n`);
    const walDir = fs.mkdtempSync(path.join(os.tmpdir(), 'falcon-raft-bench-wal-'));
    const ceiling = engineEncodedRun(walDir, 64, payloadBytes, { ...defaultBounds, durationMs: 2_000 });
    fs.rmSync(walDir, { recursive: true, force: true });
    nodes.startAll();
    const leader = await nodes.leaderAgreedBy(ids, 20_000);
    await load(nodes, leader.node, 5_000, 64, 64); // warm-up
    const batch1 = await load(nodes, leader.node, 30_000, 1, 256);
    const batch64 = await load(nodes, leader.node, 600_000, 64, 128);
    console.log('| what | entries/s | p50 ms | p99 ms |\n|---|---:|---:|---:|');
    console.log(`| WAL engine group commit, 64 per fdatasync (ceiling) | ${Math.round(ceiling.recordsPerSecond)} | ${(ceiling.latencyMicrosP50 / 1000).toFixed(2)} | ${(ceiling.latencyMicrosP99 / 1000).toFixed(2)} |`);
    for (const [name, figures] of [['raft commit, batch 1 (256 proposals in flight)', batch1], ['raft commit, batch 64 (128 proposals in flight)', batch64]] as const) {
      if (!figures.ok) console.log(`| ${name} | failed: ${figures.error ?? '?'} | | |`);
      else console.log(`| ${name} | ${Math.round(figures.entriesPerSecond)} | ${figures.latencyMsP50.toFixed(2)} | ${figures.latencyMsP99.toFixed(2)} |`);
    }
    console.log(`\nraft batch 64 / WAL ceiling: ${(batch64.entriesPerSecond / ceiling.recordsPerSecond).toFixed(2)}x\n`);
    const failovers: number[] = [];
    for (let round = 1; round <= kills; round += 1) {
      const result = await failoverRound(nodes);
      failovers.push(result.ms);
      console.log(`failover ${round}: kill -9 ${result.from} -> first commit on ${result.to} in ${result.ms.toFixed(1)} ms`);
      if (result.ms > slowFailoverMs && option('--log-level') !== undefined) console.log(nodes.logsTail());
      nodes.start(result.from);
      const view = await nodes.leaderAgreedBy(ids, 20_000);
      await nodes.converged(ids, view.commit, 20_000);
    }
    const sorted = [...failovers].sort((a, b) => a - b);
    const summary = { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
    console.log(`\nfailover over ${kills} kills: median ${summary.median.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms, max ${summary.max.toFixed(1)} ms`);
    const jsonPath = option('--json');
    if (jsonPath !== undefined) {
      fs.writeFileSync(jsonPath, `${JSON.stringify({ date: started, ceiling, batch1, batch64, failovers, summary }, null, 2)}\n`);
    }
  } finally {
    await killStartedProcesses();
    await removeTestCluster(cluster);
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await killStartedProcesses();
  process.exitCode = 1;
});
