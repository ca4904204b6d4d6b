/**
 * `npm run bench:raft`: a local 3-node cluster on loopback (real processes, real fsync) running the
 * Raft layer with a no-op state machine, driven by the leader's bounded load generator
 * (--test-hooks). Each run measures, on a fresh cluster:
 *   - the WAL engine's own group-commit ceiling on the same disk (appendEncoded + one fdatasync per
 *     64-record batch), so that the Raft figure can be read as a share of it;
 *   - committed entries/s (propose -> applied on the leader) for 300-byte entries, 64 per proposal;
 *   - the commit latency of a single proposal with nothing else in flight (p50, p99);
 *   - the write gap of a graceful stop: SIGTERM of the leader -> first commit under the next one;
 *   - failover: `kill -9` of the leader, N times, timing kill -> first commit under the new leader
 *     (median, p99, max); the killed node is restarted and caught up before the next round.
 * Warm-up: each run first commits 100,000 entries at batch 64 and 1,000 single proposals, so that
 * the figures are of a node in steady state (compiled code, grown heaps, WAL segments in place),
 * not of its first seconds.
 * Several runs (default 3) and the median of each figure with its spread (min-max): never the best
 * run. The last line of output is one JSON object with the headline figures (medians).
 * Options: --runs N (default 3), --kills N (default 100), --sigterms N (default 5), --json FILE,
 * --log-level L (nodes log at L, and a slow failover prints their last lines), --breakdown (nodes
 * log at debug, and each kill is split into close seen / leader elected / first entry applied:
 * failover-breakdown.ts). To scale a run down (npm run bench --quick): --entries N (the batch-64
 * load, default 600,000), --singles N (single proposals, default 3,000), --warm-entries N (the
 * batch-64 warm-up, default 100,000). Bounded: every wait has a deadline.
 *
 * Runs on: the bench process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterNodes } from '../test/support/cluster-nodes.js';
import { createTestCluster, killStartedProcesses, removeTestCluster } from '../test/support/test-cluster.js';
import { boundsDefault, engineEncodedRun } from './wal-measure.js';
import { failoverBreakdown, residentMbOf, type FailoverBreakdown } from './failover-breakdown.js';

const ids = ['n1', 'n2', 'n3'];
const payloadBytes = 300;
/** [entries, batch, in flight] of the loads each run commits before it measures (see the header). */
function warmUps(warmEntries: number): ReadonlyArray<readonly [number, number, number]> {
  return [[warmEntries, 64, 128], [Math.min(1_000, warmEntries), 1, 1]];
}
const killsDefault = 100;
const runsDefault = 3;
const sigtermsDefault = 5;
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

/** Kill -9 (or SIGTERM) of the leader, then the time until one entry commits under a new leader. */
async function failoverRound(nodes: ClusterNodes, how: 'kill' | 'sigterm'): Promise<{ ms: number; from: string; to: string; breakdown: FailoverBreakdown }> {
  const leader = await nodes.leaderAgreedBy(ids, 15_000);
  await nodes.allLinksUp(ids);
  const survivors = ids.filter((id) => id !== leader.node);
  const outputBefore = survivors.map((id) => nodes.process(id).output().length);
  const killedRssMb = residentMbOf(nodes.process(leader.node).child.pid);
  const killedAtWallMs = Date.now();
  const killedAt = performance.now();
  let killed: Promise<unknown>;
  if (how === 'kill') killed = nodes.kill9(leader.node);
  else {
    nodes.signal(leader.node, 'SIGTERM');
    killed = nodes.process(leader.node).exited;
  }
  const deadline = killedAt + failoverDeadlineMs;
  // Bounded by the deadline: ask every survivor at once to commit one entry, again and again, until
  // one of them, as the new leader, does (as a client that tries every node would). A survivor that
  // is not the leader holds the request until it wins the election (then commits) or hears that
  // another node won (then refuses), so the bench waits for the election instead of polling it.
  const commitOn = async (id: string): Promise<string> => {
    const response = await fetch(`${nodes.opsUrl(id)}/debug/raft-load`, {
      method: 'POST', body: JSON.stringify({ entries: 1, batch: 1, payloadBytes, inflight: 1, timeoutMs: 2_000, leaderWaitMs: 1_000 }), signal: AbortSignal.timeout(4_000),
    });
    const result = await response.json() as { ok?: boolean };
    if (result.ok !== true) throw new Error(`${id} did not commit`);
    return id;
  };
  while (performance.now() < deadline) {
    try {
      const to = await Promise.any(survivors.map((id) => commitOn(id)));
      const ms = performance.now() - killedAt;
      await killed;
      const outputs = survivors.map((id, position) => nodes.process(id).output().slice(outputBefore[position] ?? 0));
      return { ms, from: leader.node, to, breakdown: failoverBreakdown(outputs, leader.node, killedAtWallMs, killedRssMb) };
    } catch { /* none committed yet */ }
  }
  throw new Error(`no commit under a new leader within ${failoverDeadlineMs} ms of killing ${leader.node}`);
}

function breakdownWanted(): boolean {
  return process.argv.includes('--breakdown');
}

/** Medians of each part of the kills' breakdowns (kills whose logs lack a part are left out of it). */
function breakdownSummary(breakdowns: readonly FailoverBreakdown[]): string {
  const medianOf = (pick: (breakdown: FailoverBreakdown) => number, unit = 'ms'): string => {
    const values = sortedOf(breakdowns.map(pick).filter((value) => Number.isFinite(value)));
    return `${quantile(values, 0.5)} ${unit} (max ${values[values.length - 1] ?? Number.NaN} ${unit})`;
  };
  return `killed process resident set: median ${medianOf((b) => b.killedRssMb, 'MB')}; kill -> close seen: median ${medianOf((b) => b.closeSeenMs)}; kill -> leader elected: median ${medianOf((b) => b.leaderMs)}; `
    + `kill -> first entry of its term applied: median ${medianOf((b) => b.firstAppliedMs)}`;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function sortedOf(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function numberOption(name: string, fallback: number, max: number): number {
  const value = Number(option(name) ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer from 1 to ${max}`);
  return value;
}

/** The headline figures of one run (the JSON line's keys). */
interface RunFigures {
  commitBatch64PerSec: number;
  walCeilingPerSec: number;
  commitSingleP50Ms: number;
  commitSingleP99Ms: number;
  failoverMedianMs: number;
  failoverP99Ms: number;
  failoverMaxMs: number;
  sigtermGapMs: number;
}

/** Kills (or stops) the leader `rounds` times; restarts it and waits for convergence each time. */
async function failovers(nodes: ClusterNodes, rounds: number, how: 'kill' | 'sigterm', breakdowns: FailoverBreakdown[] = []): Promise<number[]> {
  const times: number[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    const result = await failoverRound(nodes, how);
    times.push(result.ms);
    const { killedRssMb, closeSeenMs, leaderMs, firstAppliedMs } = result.breakdown;
    const split = breakdownWanted() ? ` (${killedRssMb} MB resident; close seen +${closeSeenMs}, leader +${leaderMs}, first entry applied +${firstAppliedMs})` : '';
    if (breakdownWanted()) breakdowns.push(result.breakdown);
    console.log(`${how === 'kill' ? 'kill -9' : 'SIGTERM'} ${round}: ${result.from} -> first commit on ${result.to} in ${result.ms.toFixed(1)} ms${split}`);
    if (result.ms > slowFailoverMs && option('--log-level') !== undefined) console.log(nodes.logsTail());
    nodes.start(result.from);
    const view = await nodes.leaderAgreedBy(ids, 20_000);
    await nodes.converged(ids, view.commit, 20_000);
  }
  return times;
}

/** The sizes of one run's loads (options; see the header). */
interface LoadSizes { readonly entries: number; readonly singles: number; readonly warmEntries: number }

async function runOnce(run: number, kills: number, sigterms: number, sizes: LoadSizes): Promise<RunFigures & { failovers: number[]; sigtermGaps: number[] }> {
  const cluster = await createTestCluster({ nodeCount: 3, logLevel: option('--log-level') ?? (breakdownWanted() ? 'debug' : 'warn') });
  const nodes = new ClusterNodes(cluster);
  try {
    const walDir = fs.mkdtempSync(path.join(os.tmpdir(), 'falcon-raft-bench-wal-'));
    const ceiling = engineEncodedRun(walDir, 64, payloadBytes, { ...boundsDefault, durationMs: 2_000 });
    fs.rmSync(walDir, { recursive: true, force: true });
    nodes.startAll();
    const leader = await nodes.leaderAgreedBy(ids, 20_000);
    for (const [entries, batch, inflight] of warmUps(sizes.warmEntries)) {
      const warm = await load(nodes, leader.node, entries, batch, inflight);
      if (!warm.ok) throw new Error(`run ${run}: warm-up load failed: ${warm.error ?? '?'}`);
    }
    const single = await load(nodes, leader.node, sizes.singles, 1, 1);
    const batch64 = await load(nodes, leader.node, sizes.entries, 64, 128);
    for (const [name, figures] of [['single proposal', single], ['batch 64', batch64]] as const) {
      if (!figures.ok) throw new Error(`run ${run}: ${name} load failed: ${figures.error ?? '?'}`);
    }
    console.log(`\n## run ${run}\n`);
    console.log('| what | entries/s | p50 ms | p99 ms |\n|---|---:|---:|---:|');
    console.log(`| WAL engine group commit, 64 per fdatasync (ceiling) | ${Math.round(ceiling.recordsPerSecond)} | ${(ceiling.latencyMicrosP50 / 1000).toFixed(2)} | ${(ceiling.latencyMicrosP99 / 1000).toFixed(2)} |`);
    console.log(`| raft commit, one proposal at a time | ${Math.round(single.entriesPerSecond)} | ${single.latencyMsP50.toFixed(2)} | ${single.latencyMsP99.toFixed(2)} |`);
    console.log(`| raft commit, batch 64 (128 proposals in flight) | ${Math.round(batch64.entriesPerSecond)} | ${batch64.latencyMsP50.toFixed(2)} | ${batch64.latencyMsP99.toFixed(2)} |`);
    console.log(`\nraft batch 64 / WAL ceiling: ${(batch64.entriesPerSecond / ceiling.recordsPerSecond).toFixed(2)}x\n`);
    const sigtermGaps = await failovers(nodes, sigterms, 'sigterm');
    const breakdowns: FailoverBreakdown[] = [];
    const killTimes = await failovers(nodes, kills, 'kill', breakdowns);
    if (breakdowns.length > 0) console.log(`\nrun ${run} breakdown over ${breakdowns.length} kills: ${breakdownSummary(breakdowns)}`);
    const sorted = sortedOf(killTimes);
    const figures: RunFigures = {
      commitBatch64PerSec: batch64.entriesPerSecond, walCeilingPerSec: ceiling.recordsPerSecond,
      commitSingleP50Ms: single.latencyMsP50, commitSingleP99Ms: single.latencyMsP99,
      failoverMedianMs: quantile(sorted, 0.5), failoverP99Ms: quantile(sorted, 0.99), failoverMaxMs: sorted[sorted.length - 1] ?? Number.NaN,
      sigtermGapMs: quantile(sortedOf(sigtermGaps), 0.5),
    };
    console.log(`\nrun ${run}: ${JSON.stringify(roundFigures(figures))}`);
    return { ...figures, failovers: killTimes, sigtermGaps };
  } finally {
    await killStartedProcesses();
    await removeTestCluster(cluster);
  }
}

function roundFigures(figures: RunFigures): Record<string, number> {
  const rounded: Record<string, number> = {};
  for (const [key, value] of Object.entries(figures)) if (typeof value === 'number') rounded[key] = Math.round(value * 100) / 100;
  return rounded;
}

async function main(): Promise<void> {
  const runs = numberOption('--runs', runsDefault, 20);
  const kills = numberOption('--kills', killsDefault, 1000);
  const sigterms = numberOption('--sigterms', sigtermsDefault, 100);
  const sizes: LoadSizes = {
    entries: numberOption('--entries', 600_000, 10_000_000), singles: numberOption('--singles', 3_000, 1_000_000),
    warmEntries: numberOption('--warm-entries', 100_000, 10_000_000),
  };
  const started = new Date().toISOString();
  console.log(`# Raft bench — ${started}`);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}, `
    + `3 nodes on loopback, fsync always, ${payloadBytes}-byte entries; ${runs} runs of ${kills} kills and ${sigterms} SIGTERMs`);
  const results: Array<Awaited<ReturnType<typeof runOnce>>> = [];
  for (let run = 1; run <= runs; run += 1) results.push(await runOnce(run, kills, sigterms, sizes));
  const keys: ReadonlyArray<keyof RunFigures> = ['commitBatch64PerSec', 'walCeilingPerSec', 'commitSingleP50Ms', 'commitSingleP99Ms',
    'failoverMedianMs', 'failoverP99Ms', 'failoverMaxMs', 'sigtermGapMs'];
  const medians = {} as RunFigures;
  console.log(`\n## median of ${runs} runs (spread: min-max)\n\n| figure | median | min | max |\n|---|---:|---:|---:|`);
  for (const key of keys) {
    const values = sortedOf(results.map((result) => result[key]));
    medians[key] = quantile(values, 0.5);
    console.log(`| ${key} | ${medians[key].toFixed(2)} | ${(values[0] ?? Number.NaN).toFixed(2)} | ${(values[values.length - 1] ?? Number.NaN).toFixed(2)} |`);
  }
  const all = sortedOf(results.flatMap((result) => result.failovers));
  console.log(`\nall ${all.length} kills together: median ${quantile(all, 0.5).toFixed(1)} ms, p99 ${quantile(all, 0.99).toFixed(1)} ms, max ${(all[all.length - 1] ?? Number.NaN).toFixed(1)} ms`);
  console.log(`raft batch 64 / WAL ceiling (medians): ${(medians.commitBatch64PerSec / medians.walCeilingPerSec).toFixed(2)}x`);
  const jsonPath = option('--json');
  if (jsonPath !== undefined) fs.writeFileSync(jsonPath, `${JSON.stringify({ date: started, runs: results, medians }, null, 2)}\n`);
  console.log(JSON.stringify({ bench: 'raft', ...roundFigures(medians) }));
}

main().catch(async (error: unknown) => {
  console.error(error);
  await killStartedProcesses();
  process.exitCode = 1;
});
