/**
 * Enqueue-to-lease latency at a steady rate (bench:queue, and `npm run bench --cluster`): a
 * producer process (queue-bench-client.ts `produce`) and one or more consumer processes
 * (`consume`). The producer starts only once every consumer is connected and pulling, so that no
 * job waits for a consumer process to start (that would be the time to start Node, not the
 * queue's latency). Each consumer prints its HDR histogram (compressed base64); they are merged
 * here, so that the percentiles are of every job, not a median of the consumers' percentiles.
 *
 * Invariants: the consumers together received every job produced, else the figure is refused.
 *
 * Runs on: the bench process.
 */
import hdr from 'hdr-histogram-js';
import { runClient, runClientLine, type ClientNodes } from './bench-process.js';

/** What a consumer prints once connected, before its first pull (queue-bench-client.ts). */
export const consumerReadyLine = 'consumer ready';
const payloadBytes = 256;

/** The consumers' HDR histograms merged: p50, p99 and p999 in ms. */
export function mergedLatency(consumers: ReadonlyArray<Record<string, number | string>>, jobsProduced: number, queue: string): Record<string, number> {
  const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let jobs = 0;
  for (const figures of consumers) {
    merged.add(hdr.decodeFromCompressedBase64(String(figures['histogram'])));
    jobs += Number(figures['jobs']);
  }
  if (jobs !== jobsProduced) throw new Error(`${queue}: the consumers received ${jobs} of the ${jobsProduced} jobs produced`);
  return { p50Ms: merged.getValueAtPercentile(50) / 1000, p99Ms: merged.getValueAtPercentile(99) / 1000, p999Ms: merged.getValueAtPercentile(99.9) / 1000 };
}

/** Enqueue-to-lease latency at `ratePerSec` for `steadyMs` with `consumers` consumer processes. */
export async function endToEndLatency(nodes: ClientNodes, queue: string, ratePerSec: number, steadyMs: number, consumers: number): Promise<Record<string, number>> {
  const jobs = Math.round((ratePerSec * steadyMs) / 1000);
  const ready: Array<Promise<void>> = [];
  const received = Array.from({ length: consumers }, (_, at) => {
    let markReady = (): void => undefined;
    ready.push(new Promise<void>((resolve) => { markReady = resolve; }));
    return runClientLine(nodes, { scenario: 'consume', queue, jobs, workerId: `${queue}-${at}`, stopWhenIdle: consumers > 1 }, {
      onLine: (line) => { if (line.startsWith(consumerReadyLine)) markReady(); },
    });
  });
  // A consumer that fails before it is ready ends the wait too (its error surfaces below).
  await Promise.race([Promise.all(ready), Promise.all(received)]);
  const [, ...figures] = await Promise.all([runClient(nodes, { scenario: 'produce', queue, ratePerSec, durationMs: steadyMs, payloadBytes }), ...received]);
  return mergedLatency(figures, jobs, queue);
}
