/**
 * The Raft figures on /metrics: read from the Replicator's status (replicator-report.ts: one
 * control-ring round trip per scrape, shared by every metric) and exposed as Prometheus gauges,
 * counters and histograms.
 *
 * Runs on: supervisor (main thread).
 */
import type { Registry } from 'prom-client';
import type { RaftMetricsReport } from '../runtime/node-status.js';
import { histogramSamples } from './bucket-histogram.js';
import { registerReportMetric, type MetricType, type Sample, type StartedReplicatorStatus } from './replicator-report.js';

export function registerRaftMetrics(registry: Registry, status: () => Promise<StartedReplicatorStatus | undefined>): void {
  const report = async (): Promise<RaftMetricsReport | undefined> => (await status())?.metrics;
  const metric = (name: string, help: string, type: MetricType, samples: (r: RaftMetricsReport) => Sample[]): void =>
    registerReportMetric(registry, report, name, help, type, samples);
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
