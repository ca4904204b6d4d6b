/**
 * The queue's figures on /metrics, per queue where they are per queue: depth by state, oldest ready
 * age, totals of jobs enqueued, leased, acked, nacked, expired and dead-lettered; for the node:
 * idempotency hits and evictions, producer-session hits, refusals per limit, and the
 * enqueue-to-lease and enqueue-to-ack latency histograms (leader-stamped ages). Every node reports
 * what it applied; the leader's figures are the cluster's.
 *
 * Series are bounded: queues by `queue.queuesMax`, limits by their three names.
 *
 * Runs on: supervisor (main thread).
 */
import type { Registry } from 'prom-client';
import type { QueueReport } from '../runtime/node-status.js';
import type { QueueStats } from '../queue/results.js';
import { histogramSamples } from './bucket-histogram.js';
import { registerReportMetric, type MetricType, type Sample, type StartedReplicatorStatus } from './replicator-report.js';

type QueueFigure = keyof { [Key in keyof QueueStats as QueueStats[Key] extends number ? Key : never]: true };

export function registerQueueMetrics(registry: Registry, status: () => Promise<StartedReplicatorStatus | undefined>): void {
  const report = async (): Promise<QueueReport | undefined> => (await status())?.queue;
  const metric = (name: string, help: string, type: MetricType, samples: (r: QueueReport) => Sample[]): void =>
    registerReportMetric(registry, report, name, help, type, samples);
  const perQueue = (name: string, help: string, type: MetricType, figure: QueueFigure): void =>
    metric(name, help, type, (r) => r.queues.map((queue) => ({ labels: { queue: queue.queue }, value: queue[figure] })));

  perQueue('falcon_queue_ready_jobs', 'Jobs ready to be leased.', 'gauge', 'ready');
  perQueue('falcon_queue_delayed_jobs', 'Jobs waiting for their run time or retry backoff.', 'gauge', 'delayed');
  perQueue('falcon_queue_leased_jobs', 'Jobs leased to a worker now.', 'gauge', 'leased');
  perQueue('falcon_queue_dead_jobs', 'Jobs in the dead-letter set.', 'gauge', 'dead');
  perQueue('falcon_queue_held_bytes', 'Payload bytes the queue holds.', 'gauge', 'bytes');
  perQueue('falcon_queue_oldest_ready_age_ms', 'Age of the oldest ready job, in ms (0 when none).', 'gauge', 'oldestReadyAgeMs');
  perQueue('falcon_queue_enqueued_total', 'Jobs enqueued (duplicates answered from a key or session not counted).', 'counter', 'enqueuedTotal');
  perQueue('falcon_queue_leased_total', 'Leases granted.', 'counter', 'leasedTotal');
  perQueue('falcon_queue_acked_total', 'Jobs completed by an ack.', 'counter', 'ackedTotal');
  perQueue('falcon_queue_nacked_total', 'Failed attempts reported by a nack.', 'counter', 'nackedTotal');
  perQueue('falcon_queue_expired_total', 'Leases that expired (worker silent past its lease).', 'counter', 'expiredTotal');
  perQueue('falcon_queue_dead_lettered_total', 'Jobs moved to the dead-letter set.', 'counter', 'deadLetteredTotal');
  metric('falcon_queue_idempotency_hits_total', 'Enqueues answered with an earlier job by their idempotency key.', 'counter', (r) => [{ labels: {}, value: r.counters.dedupHits }]);
  metric('falcon_queue_producer_dedup_hits_total', 'Enqueues answered from their producer session (client retries).', 'counter', (r) => [{ labels: {}, value: r.counters.producerDedupHits }]);
  metric('falcon_queue_idempotency_keys', 'Idempotency keys remembered.', 'gauge', (r) => [{ labels: {}, value: r.counters.idempotencyKeys }]);
  metric('falcon_queue_idempotency_keys_evicted_total', 'Keys forgotten early because the key table was full.', 'counter', (r) => [{ labels: {}, value: r.counters.idempotencyKeysEvicted }]);
  metric('falcon_queue_limit_refusals_total', 'Enqueues refused with RESOURCE_EXHAUSTED, per limit.', 'counter',
    (r) => Object.entries(r.counters.limitRefusals).map(([limit, value]) => ({ labels: { limit }, value })));
  metric('falcon_queue_jobs', 'Jobs held by every queue (all states but completed and cancelled).', 'gauge', (r) => [{ labels: {}, value: r.counters.jobs }]);
  metric('falcon_queue_workers', 'Workers registered.', 'gauge', (r) => [{ labels: {}, value: r.workers.length }]);
  metric('falcon_queue_enqueue_to_lease_ms', 'From enqueue to each lease of a job, leader-stamped, in ms.', 'histogram',
    (r) => histogramSamples('falcon_queue_enqueue_to_lease_ms', r.enqueueToLeaseMs));
  metric('falcon_queue_enqueue_to_ack_ms', 'From enqueue to the completing ack of a job, leader-stamped, in ms.', 'histogram',
    (r) => histogramSamples('falcon_queue_enqueue_to_ack_ms', r.enqueueToAckMs));
}
