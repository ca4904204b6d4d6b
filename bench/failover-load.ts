/**
 * The failover run of `npm run bench`: a fresh three-node cluster (fsync always, 256-byte
 * payloads), a producer process enqueueing through the SDK (FalconClient, as a user's program
 * does) at a steady rate, and `kill -9` of the leader in the middle of it:
 *
 *   client start   warm-up   before window (aroundMs)   around window (aroundMs)   end
 *        |---warmMs---|-------------------------|-----------x------------|--tail--|
 *                                                          kill
 *
 * The producer records when it sent each enqueue and when it saw it acknowledged; the bench tells
 * it when it killed the leader (IPC), and the producer computes (failover-figures.ts) the
 * unavailability window — from the kill to the first enqueue acknowledged after it, as the client
 * saw it; the headline counts only enqueues sent after the kill, which only a new leader can
 * acknowledge (a reply of the dead leader still in the client's socket would otherwise pass for
 * one), and the first acknowledgement of any enqueue is reported beside it — and the throughput
 * over the window around the kill against the window before. The killed node stays down: the
 * cluster carries on with two. Each run on a fresh cluster; the median (and the worst window).
 *
 * Runs on: the bench process.
 */
import type { ChildProcess } from 'node:child_process';
import { ClusterNodes } from '../test/support/cluster-nodes.js';
import { createTestCluster, killStartedProcesses, removeTestCluster } from '../test/support/test-cluster.js';
import type { OwnSizes } from './bench-options.js';
import { runClient } from './bench-process.js';
import { medianFigures } from './bench-report.js';
import { queueLimitsYaml } from './one-node-bench.js';

const ids = ['n1', 'n2', 'n3'];
const payloadBytes = 256;
/** Load after the around window, so that every second of it is under load. */
const tailMs = 500;

function wallNowMs(): number {
  return performance.timeOrigin + performance.now();
}

async function runOnce(sizes: OwnSizes, ratePerSec: number, onLine: (line: string) => void): Promise<Record<string, number>> {
  const cluster = await createTestCluster({ nodeCount: 3, logLevel: 'warn', extraYaml: queueLimitsYaml });
  const nodes = new ClusterNodes(cluster);
  let killTimer: NodeJS.Timeout | undefined;
  try {
    nodes.startAll();
    const leader = (await nodes.leaderAgreedBy(ids, 20_000)).node;
    await nodes.allLinksUp(ids);
    const killAtMs = sizes.warmMs + sizes.aroundMs + sizes.aroundMs / 2;
    const durationMs = killAtMs + sizes.aroundMs / 2 + tailMs;
    onLine(`${ratePerSec} enqueues/s for ${durationMs} ms; kill -9 of the leader ${leader} at ${killAtMs} ms`);
    const killLeader = (child: ChildProcess): void => {
      const killedAtMs = wallNowMs();
      void nodes.kill9(leader);
      onLine(`killed ${leader}`);
      child.send({ killedAtMs });
    };
    const onMessage = (message: unknown, child: ChildProcess): void => {
      const started = (message as { started?: unknown }).started;
      if (typeof started !== 'number') return;
      killTimer = setTimeout(() => killLeader(child), Math.max(0, started + killAtMs - wallNowMs()));
    };
    const figures = await runClient({ ports: cluster.nodes.map((node) => node.clientPort) }, {
      scenario: 'failover-load', queue: 'failover', ratePerSec, durationMs, payloadBytes, aroundMs: sizes.aroundMs, warmMs: sizes.warmMs,
    }, { onMessage });
    onLine(`unavailable ${figures['unavailableMs']?.toFixed(1)} ms; ${Math.round(figures['beforePerSec'] ?? 0)}/s before, `
      + `${Math.round(figures['aroundPerSec'] ?? 0)}/s around the kill (drop ${figures['dropPercent']?.toFixed(1)}%); ${figures['failures']} failed`);
    return figures;
  } finally {
    if (killTimer !== undefined) clearTimeout(killTimer);
    await killStartedProcesses();
    await removeTestCluster(cluster);
  }
}

export async function failoverLoadBench(sizes: OwnSizes, ratePerSec: number, onLine: (line: string) => void): Promise<Record<string, number>> {
  const runs: Array<Record<string, number>> = [];
  for (let run = 1; run <= sizes.runs; run += 1) runs.push(await runOnce(sizes, ratePerSec, (line) => onLine(`run ${run}: ${line}`)));
  const medians = medianFigures(runs);
  const windows = runs.map((run) => run['unavailableMs'] ?? Number.NaN);
  return {
    unavailableMsMedian: medians['unavailableMs'] ?? Number.NaN,
    unavailableMsMax: Math.max(...windows),
    firstAckAfterKillMsMedian: medians['firstAckAfterKillMs'] ?? Number.NaN,
    dropPercent: medians['dropPercent'] ?? Number.NaN,
    beforePerSec: medians['beforePerSec'] ?? Number.NaN,
    aroundPerSec: medians['aroundPerSec'] ?? Number.NaN,
    worstSecondPerSec: medians['worstSecondPerSec'] ?? Number.NaN,
    failures: runs.reduce((total, run) => total + (run['failures'] ?? 0), 0),
    ratePerSec,
    aroundMs: sizes.aroundMs,
    kills: runs.length,
  };
}
