/**
 * The WAL writer ACTOR driven through its real ring, as the Replicator drives it: pre-encoded
 * records (`appendRecords`) go into the ring, the actor group-commits them (one write + one
 * fdatasync per drain) and answers `durable` after the fdatasync. One batch is in flight at a time,
 * like the raw-ceiling runs it is compared with, so its latency is append-to-durable through
 * both ring hops.
 *
 * Runs on: the bench process (main thread plays the Replicator).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseClusterConfig, selectNode } from '../src/config/load-config.js';
import { startSoloActor } from '../test/support/solo-actor.js';
import { isFalconError } from '../src/errors.js';
import { checkFromWal } from '../src/protocol/wal-validation.js';
import { encodeRecordInto, recordBytesFor } from '../src/wal/wal-record.js';
import { summarize, type BatchResult, type RunBounds } from './wal-measure.js';

/** Bytes of pre-encoded batches prepared before timing (the run stops when they run out). */
const poolBytesMax = 256 * 1024 * 1024;

function actorConfig(dir: string) {
  const text = 'cluster:\n  name: bench\nnodes:\n  - id: n1\n    host: 127.0.0.1\n    peerPort: 1\n    clientPort: 2\n    opsPort: 3\n    dataDir: ./n1\n'
    + 'logging:\n  level: warn\nring:\n  capacityBytes: 8388608\n';
  return parseClusterConfig(text, 'bench', dir);
}

/**
 * `inflight` batches are kept in the ring at once: 1 measures the pure path (append to durable
 * through both ring hops); more lets the actor's group commit merge batches that arrive while it
 * fsyncs, as a busy Replicator does (then one fdatasync covers several batches).
 */
export async function walActorRun(dir: string, batchRecords: number, payloadBytes: number, bounds: RunBounds, inflight = 1): Promise<BatchResult> {
  const actorDir = path.join(dir, `actor-${batchRecords}`);
  fs.mkdirSync(actorDir, { recursive: true });
  const config = actorConfig(actorDir);
  const actor = startSoloActor('walWriter', config, selectNode(config, 'n1'));
  let durable = 0;
  const pump = (): void => {
    actor.receive('replicator', (message) => {
      const reply = checkFromWal(message);
      if (isFalconError(reply)) throw new Error(reply.message);
      if (reply.type === 'durable') durable = reply.lastIndex;
      if (reply.type === 'walError') throw new Error(`${reply.error.code}: ${reply.error.message}`);
    });
  };
  const probes = setInterval(pump, 2);
  await actor.ready;
  clearInterval(probes);
  const recordBytes = recordBytesFor(payloadBytes);
  const batchBytes = batchRecords * recordBytes;
  const poolBatches = Math.max(1, Math.min(Math.floor(poolBytesMax / batchBytes), bounds.batchesMax + bounds.warmupBatches));
  const pool = Buffer.allocUnsafe(poolBatches * batchBytes);
  const payload = new Uint8Array(payloadBytes).fill(0x42);
  for (let index = 1, offset = 0; offset < pool.length; index += 1) offset = encodeRecordInto(pool, offset, { term: 1, index, type: 0, data: payload });
  let batch = 0;
  const name = inflight === 1 ? 'WAL actor through its ring, 1 batch in flight' : `WAL actor through its ring, ${inflight} batches in flight`;
  const sendNext = (): void => {
    if ((batch + 1) * batchBytes > pool.length) return;
    const records = pool.subarray(batch * batchBytes, (batch + 1) * batchBytes);
    batch += 1;
    if (!actor.send('replicator', { type: 'appendRecords', records })) throw new Error(`WAL ring full with ${inflight} batches in flight`);
  };
  // Each batch's latency runs from the moment it was put into the ring to its durable report.
  const sentAtMs: number[] = [];
  const send = (): void => {
    sentAtMs[batch] = performance.now();
    sendNext();
  };
  const allowed = Math.min(poolBatches - inflight, bounds.batchesMax);
  const samples = new Float64Array(allowed);
  try {
    let completed = 0;
    const startMs = performance.now();
    while (batch < Math.min(inflight, poolBatches)) send();
    // Bounded by the pool, the batch bound and the duration.
    while (completed < allowed && performance.now() - startMs < bounds.durationMs) {
      const target = (completed + 1) * batchRecords;
      while (durable < target) {
        pump();
        if (durable >= target) break;
        if (!(await actor.waitForMessage('replicator', 10_000)) && durable < target) throw new Error(`no durable report for index ${target} within 10 s`);
      }
      const nowMs = performance.now();
      while (completed < allowed && durable >= (completed + 1) * batchRecords) {
        samples[completed] = nowMs - (sentAtMs[completed] ?? nowMs);
        completed += 1;
        if (batch < poolBatches) send();
      }
    }
    return summarize(name, batchRecords, recordBytes, samples, completed, performance.now() - startMs);
  } finally {
    await actor.stop();
    fs.rmSync(actorDir, { recursive: true, force: true });
  }
}
