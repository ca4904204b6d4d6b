/**
 * What bench/ring-bench.ts tells each producing worker (bench/ring-bench-worker.ts).
 *
 * Runs on: the main thread of the ring bench and its worker threads.
 */
export type BenchScenario =
  | 'ring-throughput'
  | 'ring-zero-copy-throughput'
  | 'channel-throughput'
  | 'post-throughput'
  | 'ring-latency'
  | 'post-latency';

export interface BenchWorkerData {
  readonly scenario: BenchScenario;
  /** Producer -> main ring (ring scenarios). */
  readonly forward: SharedArrayBuffer;
  /** Main -> producer echo ring (ring latency scenario). */
  readonly echo: SharedArrayBuffer | undefined;
  readonly recordBytes: number;
  /** Records per write (tryWriteMany / one postMessage). */
  readonly batchRecords: number;
  /** Throughput scenarios stop after this many records... */
  readonly recordsMax: number;
  /** ...or after this long, whichever comes first. Latency scenarios use it too. */
  readonly timeMs: number;
  /** Latency scenarios stop after this many round trips. */
  readonly roundsMax: number;
  /** postMessage throughput: most records sent and not yet acknowledged. */
  readonly windowRecords: number;
  /** Origin of the shared monotonic clock used for stamps (process.hrtime.bigint()). */
  readonly clockBase: bigint;
}

/** The typed message of the channel scenario; its encoded size is close to the record size. */
export interface BenchMessage {
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** Payload bytes that make a BenchMessage encode to about `recordBytes`. */
export function benchPayloadBytes(recordBytes: number): number {
  return recordBytes - 20;
}
