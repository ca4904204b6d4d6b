/**
 * The Prometheus registry of one node. Values that live in shared memory (liveness beats, ring
 * counters) are read at scrape time, so the hot path pays nothing for metrics.
 *
 * Runs on: supervisor (main thread).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeView } from '../runtime/node-status.js';
import { readRingStats } from '../ring/spsc-ring.js';
import { registerRaftMetrics } from './raft-metrics.js';
import { registerQueueMetrics } from './queue-metrics.js';
import { cachedReplicatorStatus } from './replicator-report.js';

/**
 * Widens the rings' uint32 counters into totals that never go back: each scrape adds the distance
 * travelled since the previous one, mod 2^32. Exact as long as fewer than 2^32 records pass
 * between two scrapes (over 14 minutes at 5M records/s; Prometheus scrapes every 15-60 s).
 */
class WrappingCounter {
  private lastRaw = 0;
  private total = 0;
  advance(raw: number): number {
    this.total += (raw - this.lastRaw) >>> 0;
    this.lastRaw = raw;
    return this.total;
  }
}

export function createNodeMetrics(node: NodeView, nodeId: string): Registry {
  const recordsWritten = new Map<string, WrappingCounter>();
  const fullCounts = new Map<string, WrappingCounter>();
  const widen = (counters: Map<string, WrappingCounter>, ring: string, raw: number): number => {
    let counter = counters.get(ring);
    if (counter === undefined) {
      counter = new WrappingCounter();
      counters.set(ring, counter);
    }
    return counter.advance(raw);
  };
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'falcon_' });

  new Gauge({
    name: 'falcon_actor_up',
    help: '1 when the actor is running and its liveness counter moves, else 0.',
    labelNames: ['actor'],
    registers: [registry],
    collect() {
      for (const figures of node.actorFigures()) this.set({ actor: figures.actor }, figures.up ? 1 : 0);
    },
  });
  new Counter({
    name: 'falcon_actor_restarts_total',
    help: 'Times the supervisor restarted the actor after a failure.',
    labelNames: ['actor'],
    registers: [registry],
    collect() {
      this.reset();
      for (const figures of node.actorFigures()) this.inc({ actor: figures.actor }, figures.restarts);
    },
  });
  new Gauge({
    name: 'falcon_ring_used_bytes',
    help: 'Bytes written to the ring and not yet consumed.',
    labelNames: ['ring'],
    registers: [registry],
    collect() {
      for (const ring of node.rings) this.set({ ring: ring.name }, readRingStats(ring.buffer).usedBytes);
    },
  });
  new Gauge({
    name: 'falcon_ring_capacity_bytes',
    help: 'Capacity of the ring.',
    labelNames: ['ring'],
    registers: [registry],
    collect() {
      for (const ring of node.rings) this.set({ ring: ring.name }, readRingStats(ring.buffer).capacityBytes);
    },
  });
  new Counter({
    name: 'falcon_ring_records_total',
    help: 'Records written to the ring since the node started.',
    labelNames: ['ring'],
    registers: [registry],
    collect() {
      this.reset();
      for (const ring of node.rings) this.inc({ ring: ring.name }, widen(recordsWritten, ring.name, readRingStats(ring.buffer).recordsWritten));
    },
  });
  new Counter({
    name: 'falcon_ring_full_total',
    help: 'Times a producer found the ring full and had to wait (backpressure).',
    labelNames: ['ring'],
    registers: [registry],
    collect() {
      this.reset();
      for (const ring of node.rings) this.inc({ ring: ring.name }, widen(fullCounts, ring.name, readRingStats(ring.buffer).fullCount));
    },
  });
  const replicatorStatus = cachedReplicatorStatus(node);
  registerRaftMetrics(registry, replicatorStatus);
  registerQueueMetrics(registry, replicatorStatus);
  return registry;
}
