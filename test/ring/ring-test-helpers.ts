/**
 * Small helpers shared by the ring tests: a seeded random source, a running checksum, bounded
 * waits with a clear failure message, and worker threads that are always terminated.
 *
 * Runs on: the mocha main thread and the ring test workers.
 */
import { Worker } from 'node:worker_threads';

/** xorshift32: a seeded, reproducible random source (seed must not be 0). */
export class SeededRandom {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  nextUint32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** An integer in [0, bound). */
  below(bound: number): number {
    return this.nextUint32() % bound;
  }
}

/**
 * A running checksum over a stream of records: per record a Fletcher-style pair (a sum and a sum
 * of sums, so that order within the record counts), folded into the running value with the
 * record's length (so that boundaries and record order count). Cheap enough for millions.
 */
export class RunningChecksum {
  value = 0x811c9dc5;
  records = 0;
  add(record: Uint8Array): void {
    let sum = record.byteLength;
    let sumOfSums = this.value;
    for (let index = 0; index < record.byteLength; index++) {
      sum = (sum + (record[index] as number)) | 0;
      sumOfSums = (sumOfSums + sum) | 0;
    }
    this.value = (Math.imul(this.value ^ sum, 16777619) ^ sumOfSums) >>> 0;
    this.records++;
  }
}

/** Record `index` of a deterministic stream: its length and bytes both follow from (seed, index). */
export function fillRecord(random: SeededRandom, target: Uint8Array, byteLength: number): Uint8Array {
  const record = target.subarray(0, byteLength);
  for (let index = 0; index < byteLength; index += 4) {
    const word = random.nextUint32();
    record[index] = word;
    if (index + 1 < byteLength) record[index + 1] = word >>> 8;
    if (index + 2 < byteLength) record[index + 2] = word >>> 16;
    if (index + 3 < byteLength) record[index + 3] = word >>> 24;
  }
  return record;
}

/** Mixed sizes: mostly small (0-31 bytes), some medium (32-287), one in a hundred up to `largeBytesMax`. */
export function mixedSize(random: SeededRandom, largeBytesMax: number): number {
  const pick = random.below(100);
  if (pick < 85) return random.below(32);
  if (pick < 99) return 32 + random.below(256);
  return random.below(largeBytesMax + 1);
}

/**
 * Runs a ring wait with `timeoutMs` and says whether it ended by that timeout (resolved false
 * after at least `timeoutMs`). A wait may also end early with false: a wake-up meant for an earlier
 * sleep can end a later one (see spsc-ring.ts); callers loop, so that is harmless, not a timeout.
 */
export async function sleptUntilTimeout(timeoutMs: number, wait: (timeoutMs: number) => Promise<boolean>): Promise<boolean> {
  const startedMs = performance.now();
  const woken = await wait(timeoutMs);
  return !woken && performance.now() - startedMs >= timeoutMs;
}

/** Rejects with `what` if `promise` does not settle within `timeoutMs`. */
export async function withinMs<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts test workers and terminates every one of them in `terminateAll` (call it in afterEach). */
export class WorkerPool {
  private readonly workers = new Set<Worker>();

  start(url: URL, workerData: unknown): Worker {
    const worker = new Worker(url, { workerData });
    this.workers.add(worker);
    worker.once('exit', () => this.workers.delete(worker));
    return worker;
  }

  async terminateAll(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.terminate()));
    this.workers.clear();
  }
}

/** The first message a worker posts whose `type` is `type`; rejects if the worker fails first. */
export function messageOfType<T>(worker: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type) {
        worker.off('message', onMessage);
        resolve(message as T);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before sending '${type}'`)));
  });
}
