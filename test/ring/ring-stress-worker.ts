/**
 * The far end of the two-thread stress test (ring-stress.test.ts), chosen by workerData.role:
 *   produce:          writes `records` seeded mixed-size records, waiting for space with
 *                     Atomics.waitAsync when the ring is full; pauses now and then so that the
 *                     consumer drains the ring empty and goes to sleep.
 *   consume-blocking: a dedicated consumer that sleeps with the blocking waitSync.
 * Both post { type: 'done', records, checksum, sleepsEndedByTimeout } at the end, or
 * { type: 'failed', message }.
 *
 * Runs on: a worker thread started by ring-stress.test.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RingConsumer } from '../../src/ring/ring-consumer.js';
import { RingProducer } from '../../src/ring/ring-producer.js';
import { fillRecord, mixedSize, RunningChecksum, SeededRandom, sleptUntilTimeout } from './ring-test-helpers.js';

export interface StressWorkerData {
  readonly role: 'produce' | 'consume-blocking';
  readonly buffer: SharedArrayBuffer;
  readonly seed: number;
  readonly records: number;
  readonly largeBytesMax: number;
  readonly deadlineMs: number;
  /** Each sleep's timeout; a sleep that reaches it is counted (a lost wake-up). */
  readonly wakeUpBoundMs: number;
}

/** Records per phase; in every fourth phase the producer yields often, so the consumer sleeps. */
export const STRESS_PHASE_RECORDS = 100_000;

const data = workerData as StressWorkerData;
let sleepsEndedByTimeout = 0;
const port = parentPort;
if (port === null) throw new Error('ring-stress-worker must run as a worker thread');
// Keeps this worker alive while it sleeps in Atomics.waitAsync, which alone would not.
port.on('message', () => undefined);

async function produce(): Promise<RunningChecksum> {
  const producer = new RingProducer(data.buffer);
  const random = new SeededRandom(data.seed);
  const checksum = new RunningChecksum();
  const scratch = new Uint8Array(data.largeBytesMax);
  const deadline = performance.now() + data.deadlineMs;
  for (let index = 0; index < data.records; index++) {
    const record = fillRecord(random, scratch, mixedSize(random, data.largeBytesMax));
    checksum.add(record);
    // Bounded by the deadline: each turn waits for the consumer to free space.
    while (!producer.tryWrite(record)) {
      if (performance.now() > deadline) throw new Error(`producer found no space before the deadline after ${index} records`);
      const waitForSpace = (timeoutMs: number): Promise<boolean> => producer.waitForSpace(record.byteLength, timeoutMs);
      if (await sleptUntilTimeout(data.wakeUpBoundMs, waitForSpace)) sleepsEndedByTimeout++;
    }
    const pausing = Math.floor(index / STRESS_PHASE_RECORDS) % 4 === 3;
    if (pausing && index % 256 === 0) await nextTurn();
  }
  producer.close();
  return checksum;
}

function consumeBlocking(): RunningChecksum {
  const consumer = new RingConsumer(data.buffer);
  const checksum = new RunningChecksum();
  const deadline = performance.now() + data.deadlineMs;
  const onRecord = (record: Uint8Array): void => checksum.add(record);
  // Bounded by the deadline and by the producer's close.
  for (;;) {
    if (consumer.drain(onRecord) > 0) continue;
    if (consumer.isFinished()) return checksum;
    if (performance.now() > deadline) throw new Error(`consumer stalled after ${checksum.records} records`);
    const sleptMs = performance.now();
    if (!consumer.waitSync(data.wakeUpBoundMs) && performance.now() - sleptMs >= data.wakeUpBoundMs) sleepsEndedByTimeout++;
  }
}

try {
  const checksum = data.role === 'produce' ? await produce() : consumeBlocking();
  port.postMessage({ type: 'done', records: checksum.records, checksum: checksum.value, sleepsEndedByTimeout });
} catch (error) {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}
port.close();
