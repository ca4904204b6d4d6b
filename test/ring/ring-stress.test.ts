/**
 * Two threads, millions of records: what one thread writes the other reads, byte for byte and in
 * order (a running checksum and a count on each side), through a small ring that wraps and fills
 * over and over, with both sides sleeping and waking along the way.
 *
 *   worker -> main: the worker produces 3M mixed-size records (waitAsync when full); the main
 *                   thread consumes with waitAsync, slowly in some phases so that the ring fills.
 *   main -> worker: the main thread produces 1M records (waitAsync when full); the worker is a
 *                   dedicated consumer sleeping with the blocking waitSync.
 *
 * Seeded: RING_STRESS_SEED=<seed> replays a run; every failure message names the seed.
 *
 * Runs on: the mocha main thread, plus one worker thread per test.
 */
import { expect } from 'chai';
import { RingConsumer } from '../../src/ring/ring-consumer.js';
import { RingProducer } from '../../src/ring/ring-producer.js';
import { createRingBuffer, readRingStats } from '../../src/ring/spsc-ring.js';
import type { StressWorkerData } from './ring-stress-worker.js';
import {
  fillRecord,
  messageOfType,
  mixedSize,
  RunningChecksum,
  SeededRandom,
  sleptUntilTimeout,
  withinMs,
  WorkerPool,
} from './ring-test-helpers.js';

const WORKER_URL = new URL('./ring-stress-worker.js', import.meta.url);
const CAPACITY_BYTES = 64 * 1024;
const LARGE_BYTES_MAX = 2048;
const DEADLINE_MS = 20_000;
/** Records per consumer phase; every fourth phase the consumer hashes each record again. */
const PHASE_RECORDS = 100_000;
const EXTRA_HASHES_WHEN_SLOW = 3;
/**
 * A sleeping side must be woken by the other side, never by its own timeout: the other side never
 * pauses this long, so a sleep that ends by timeout means a lost wake-up.
 */
const WAKE_UP_BOUND_MS = 1_000;

interface Done {
  readonly type: 'done';
  readonly records: number;
  readonly checksum: number;
  readonly sleepsEndedByTimeout: number;
}

function seedOf(): number {
  return Number(process.env.RING_STRESS_SEED ?? 1 + Math.floor(Math.random() * 0x7fffffff));
}

/** Starts the worker; the promise settles with its report (observed at once, awaited later). */
function workerResult(pool: WorkerPool, data: StressWorkerData): Promise<Done> {
  const worker = pool.start(WORKER_URL, data);
  const failed = messageOfType<{ message: string }>(worker, 'failed').then((failure): never => {
    throw new Error(`worker failed (seed ${data.seed}): ${failure.message}`);
  });
  const result = Promise.race([messageOfType<Done>(worker, 'done'), failed]);
  // Both are awaited later (through the race); until then a failure must not count as unhandled.
  failed.catch(() => undefined);
  result.catch(() => undefined);
  return result;
}

describe('SPSC ring: two threads under stress', function () {
  this.timeout(60_000);
  const pool = new WorkerPool();
  afterEach(async () => pool.terminateAll());

  it('a worker producer and a main-thread consumer (both on waitAsync) agree on 3M records', async () => {
    const seed = seedOf();
    const records = 3_000_000;
    const buffer = createRingBuffer(CAPACITY_BYTES);
    const consumer = new RingConsumer(buffer);
    const done = workerResult(pool, {
      role: 'produce',
      buffer,
      seed,
      records,
      largeBytesMax: LARGE_BYTES_MAX,
      deadlineMs: DEADLINE_MS,
      wakeUpBoundMs: WAKE_UP_BOUND_MS,
    });
    const checksum = new RunningChecksum();
    const onRecord = (record: Uint8Array): void => {
      checksum.add(record);
      if (Math.floor(checksum.records / PHASE_RECORDS) % 4 === 1) {
        for (let extra = 0; extra < EXTRA_HASHES_WHEN_SLOW; extra++) new RunningChecksum().add(record);
      }
    };
    let sleeps = 0;
    let sleepsEndedByTimeout = 0;
    const deadline = performance.now() + DEADLINE_MS;
    // Bounded by the deadline and by the producer's close.
    for (;;) {
      if (consumer.drain(onRecord) > 0) continue;
      if (consumer.isFinished()) break;
      if (performance.now() > deadline) throw new Error(`consumer stalled after ${checksum.records} records (seed ${seed})`);
      sleeps++;
      if (await sleptUntilTimeout(WAKE_UP_BOUND_MS, (timeoutMs) => consumer.waitForData(timeoutMs))) sleepsEndedByTimeout++;
    }
    const produced = await withinMs(done, DEADLINE_MS, `producer report (seed ${seed})`);
    expect(checksum.records, `records (seed ${seed})`).to.equal(records);
    expect(produced.records, `records produced (seed ${seed})`).to.equal(records);
    expect(checksum.value, `checksum (seed ${seed})`).to.equal(produced.checksum);
    const stats = readRingStats(buffer);
    expect(stats.fullCount, `producer never found the ring full (seed ${seed})`).to.be.greaterThan(0);
    expect(sleeps, `consumer never slept (seed ${seed})`).to.be.greaterThan(0);
    expect(sleepsEndedByTimeout, `consumer sleeps not ended by a wake-up (seed ${seed})`).to.equal(0);
    expect(produced.sleepsEndedByTimeout, `producer sleeps not ended by a wake-up (seed ${seed})`).to.equal(0);
    expect(stats.recordsWritten).to.equal(records);
  });

  it('a main-thread producer (waitAsync) and a worker consumer blocking in waitSync agree on 1M records', async () => {
    const seed = seedOf();
    const records = 1_000_000;
    const buffer = createRingBuffer(CAPACITY_BYTES);
    const producer = new RingProducer(buffer);
    const done = workerResult(pool, {
      role: 'consume-blocking',
      buffer,
      seed,
      records,
      largeBytesMax: LARGE_BYTES_MAX,
      deadlineMs: DEADLINE_MS,
      wakeUpBoundMs: WAKE_UP_BOUND_MS,
    });
    const random = new SeededRandom(seed);
    const checksum = new RunningChecksum();
    const scratch = new Uint8Array(LARGE_BYTES_MAX);
    const deadline = performance.now() + DEADLINE_MS;
    let producerSleepsEndedByTimeout = 0;
    for (let index = 0; index < records; index++) {
      const record = fillRecord(random, scratch, mixedSize(random, LARGE_BYTES_MAX));
      checksum.add(record);
      // Bounded by the deadline: each turn waits for the worker to free space.
      while (!producer.tryWrite(record)) {
        if (performance.now() > deadline) throw new Error(`producer found no space after ${index} records (seed ${seed})`);
        const waitForSpace = (timeoutMs: number): Promise<boolean> => producer.waitForSpace(record.byteLength, timeoutMs);
        if (await sleptUntilTimeout(WAKE_UP_BOUND_MS, waitForSpace)) producerSleepsEndedByTimeout++;
      }
    }
    producer.close();
    const consumed = await withinMs(done, DEADLINE_MS, `consumer report (seed ${seed})`);
    expect(consumed.records, `records (seed ${seed})`).to.equal(records);
    expect(consumed.checksum, `checksum (seed ${seed})`).to.equal(checksum.value);
    expect(consumed.sleepsEndedByTimeout, `consumer sleeps not ended by a wake-up (seed ${seed})`).to.equal(0);
    expect(producerSleepsEndedByTimeout, `producer sleeps not ended by a wake-up (seed ${seed})`).to.equal(0);
  });
});
