/**
 * The Replicator's status as the metrics read it: asked once per scrape (one control-ring round
 * trip), shared by every Raft and queue metric of that scrape, and by the Prometheus-shaped
 * registration both use.
 *
 * Runs on: supervisor (main thread).
 */
import type { Registry } from 'prom-client';
import { startedReplicator, type NodeView, type ReplicatorStatus } from '../runtime/node-status.js';

/** Status older than this is asked for again; one scrape asks once. */
const reportAgeMsMax = 250;

export type StartedReplicatorStatus = NonNullable<ReturnType<typeof startedReplicator>>;
export type Sample = { metricName?: string; labels: Record<string, string>; value: number };
export type MetricType = 'gauge' | 'counter' | 'histogram';

/** A function that answers the Replicator's started status, asking at most every 250 ms. */
export function cachedReplicatorStatus(node: NodeView): () => Promise<StartedReplicatorStatus | undefined> {
  let cached: { atMs: number; status: Promise<StartedReplicatorStatus | undefined> } | undefined;
  return () => {
    const nowMs = Date.now();
    if (cached === undefined || nowMs - cached.atMs > reportAgeMsMax) {
      cached = { atMs: nowMs, status: node.replicatorStatus().then((status: ReplicatorStatus | undefined) => startedReplicator(status)) };
    }
    return cached.status;
  };
}

/** Registers one metric whose samples are read from `report` at scrape time. */
export function registerReportMetric<Report>(registry: Registry, report: () => Promise<Report | undefined>,
  name: string, help: string, type: MetricType, samples: (report: Report) => Sample[]): void {
  registry.registerMetric({
    name, help, type, aggregator: 'sum',
    get: async () => {
      const current = await report();
      return { name, help, type, aggregator: 'sum', values: current === undefined ? [] : samples(current) };
    },
    reset: () => undefined,
  } as unknown as Parameters<Registry['registerMetric']>[0]);
}
