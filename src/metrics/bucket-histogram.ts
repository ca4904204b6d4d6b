/**
 * A fixed-bucket histogram kept by an actor thread and shipped as plain numbers (in /status) to
 * the supervisor, which exposes it in Prometheus form (raft-metrics.ts). Observing costs a short
 * linear scan over a dozen bounds: no allocation on the hot path.
 *
 * Invariant: `counts[i]` counts observations ≤ bounds[i] and > bounds[i-1]; the last slot counts
 * those above every bound (+Inf).
 *
 * Runs on: any thread.
 */
import type { HistogramSnapshot } from '../runtime/node-status.js';

export class BucketHistogram {
  private readonly bounds: readonly number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let slot = 0;
    while (slot < this.bounds.length && value > (this.bounds[slot] ?? Number.POSITIVE_INFINITY)) slot += 1;
    this.counts[slot] = (this.counts[slot] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: this.bounds, counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

/** Prometheus histogram samples (cumulative buckets, sum, count) from a snapshot. */
export function histogramSamples(name: string, snapshot: HistogramSnapshot): Array<{ metricName: string; labels: Record<string, string>; value: number }> {
  const samples: Array<{ metricName: string; labels: Record<string, string>; value: number }> = [];
  let cumulative = 0;
  snapshot.bounds.forEach((bound, slot) => {
    cumulative += snapshot.counts[slot] ?? 0;
    samples.push({ metricName: `${name}_bucket`, labels: { le: String(bound) }, value: cumulative });
  });
  samples.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: snapshot.count });
  samples.push({ metricName: `${name}_sum`, labels: {}, value: snapshot.sum });
  samples.push({ metricName: `${name}_count`, labels: {}, value: snapshot.count });
  return samples;
}
