/**
 * The Raft figures on /metrics: read from the Replicator's status (one control-ring round trip per
 * scrape, shared by every metric below) and exposed as Prometheus gauges, counters and histograms.
 *
 * Runs on: supervisor (main thread).
 */
import type { Registry } from 'prom-client';
import { startedReplicator, type NodeView, type RaftMetricsReport } from '../runtime/node-status.js';
import { histogramSamples } from './bucket-histogram.js';

/** Status older than this is asked for again; one scrape asks once. */
const reportAgeMsMax = 250;

type Sample = { metricName?: string; labels: Record<string, string>; value: number };

export function registerRaftMetrics(registry: Registry, node: NodeView): void {
  let cached: { atMs: number; report: Promise<RaftMetricsReport | undefined> } | undefined;
  const report = (): Promise<RaftMetricsReport | undefined> => {
    const nowMs = Date.now();
    if (cached === undefined || nowMs - cached.atMs > reportAgeMsMax) {
      cached = { atMs: nowMs, report: node.replicatorStatus().then((status) => startedReplicator(status)?.metrics) };
    }
    return cached.report;
  };
  const metric = (name: string, help: string, type: 'gauge' | 'counter' | 'histogram', samples: (r: RaftMetricsReport) => Sample[]): void => {
    registry.registerMetric({
      name, help, type, aggregator: 'sum',
      get: async () => {
        const current = await report();
        return { name, help, type, aggregator: 'sum', values: current === undefined ? [] : samples(current) };
      },
      reset: () => undefined,
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  };
  metric('falcon_raft_term', 'Current Raft term of this node.', 'gauge', (r) => [{ labels: {}, value: r.term }]);
  metric('falcon_raft_commit_index', 'Highest log index known committed.', 'gauge', (r) => [{ labels: {}, value: r.commitIndex }]);
  metric('falcon_raft_applied_index', 'Highest log index applied to the state machine.', 'gauge', (r) => [{ labels: {}, value: r.appliedIndex }]);
  metric('falcon_raft_is_leader', '1 when this node leads.', 'gauge', (r) => [{ labels: {}, value: r.isLeader ? 1 : 0 }]);
  metric('falcon_raft_elections_total', 'Elections this node started (as a candidate).', 'counter', (r) => [{ labels: {}, value: r.elections }]);
  metric('falcon_raft_leader_changes_total', 'Times the leader this node knows changed.', 'counter', (r) => [{ labels: {}, value: r.leaderChanges }]);
  metric('falcon_peer_reconnects_total', 'Times the connection to a peer was lost and tried again.', 'counter',
    (r) => Object.entries(r.peerReconnects).map(([peer, value]) => ({ labels: { peer }, value })));
  metric('falcon_raft_commit_latency_ms', 'From handing entries to the WAL to their commit, per write, in ms.', 'histogram',
    (r) => histogramSamples('falcon_raft_commit_latency_ms', r.commitLatencyMs));
  metric('falcon_raft_append_batch_entries', 'Entries per WAL append (per Raft Ready).', 'histogram',
    (r) => histogramSamples('falcon_raft_append_batch_entries', r.appendBatchEntries));
}
