/**
 * Measurement helpers of the WAL benchmark, exported so that other benches (the WAL actor driven
 * through its ring) measure the same way and print into the same table:
 * - `measureBatches` / `measureBatchesAsync`: run one batch at a time until a time or batch bound,
 *   recording each batch's latency (append to durable);
 * - `rawCeilingRun`: the disk's ceiling — one `write` + one `fdatasync` per batch, nothing else;
 * - `engineRun`: the WAL engine driven directly (no thread): `append` + `flush` per batch;
 * - `engineEncodedRun`: the same fed pre-encoded records (`appendEncoded`), as from a ring;
 * - `resultsTable`: the markdown table.
 *
 * Bounds: every run stops at `durationMs` or `batchesMax` batches or `bytesMax` bytes, whichever
 * comes first; latency samples are kept for at most `batchesMax` batches.
 *
 * Runs on: the bench process (main thread).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LogEntry } from '../src/log/log-entry.js';
import { WriteAheadLog } from '../src/wal/wal.js';
import { encodeRecordInto, recordBytesFor } from '../src/wal/wal-record.js';

export interface RunBounds {
  readonly durationMs: number;
  readonly batchesMax: number;
  readonly bytesMax: number;
  /** Batches run first and not measured (page cache, JIT, file growth). */
  readonly warmupBatches: number;
}

export interface BatchResult {
  readonly name: string;
  readonly batchRecords: number;
  /** Bytes each record takes on disk. */
  readonly recordBytesOnDisk: number;
  readonly batches: number;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly latencyMicrosP50: number;
  readonly latencyMicrosP99: number;
}

export const boundsDefault: RunBounds = { durationMs: 4000, batchesMax: 200_000, bytesMax: 768 * 1024 * 1024, warmupBatches: 20 };

/** The q-quantile (0..1) of `sortedSamples` (nearest rank). */
export function percentile(sortedSamples: Float64Array, quantile: number): number {
  if (sortedSamples.length === 0) return 0;
  const rank = Math.min(sortedSamples.length - 1, Math.max(0, Math.ceil(quantile * sortedSamples.length) - 1));
  return sortedSamples[rank] ?? 0;
}

export function batchesAllowed(bounds: RunBounds, batchBytes: number): number {
  return Math.max(1, Math.min(bounds.batchesMax, Math.floor(bounds.bytesMax / batchBytes)));
}

export function summarize(name: string, batchRecords: number, recordBytesOnDisk: number, samples: Float64Array, batches: number, elapsedMs: number): BatchResult {
  const sorted = samples.slice(0, batches).sort();
  const seconds = elapsedMs / 1000;
  const records = batches * batchRecords;
  return {
    name, batchRecords, recordBytesOnDisk, batches, records, seconds,
    recordsPerSecond: records / seconds,
    megabytesPerSecond: (records * recordBytesOnDisk) / seconds / 1e6,
    latencyMicrosP50: percentile(sorted, 0.5) * 1000,
    latencyMicrosP99: percentile(sorted, 0.99) * 1000,
  };
}

/** Runs `runBatch` (synchronous: one batch made durable) under `bounds` and summarizes. */
export function measureBatches(
  name: string, batchRecords: number, recordBytesOnDisk: number, bounds: RunBounds, runBatch: () => void,
): BatchResult {
  for (let warmup = 0; warmup < bounds.warmupBatches; warmup += 1) runBatch();
  const allowed = batchesAllowed(bounds, batchRecords * recordBytesOnDisk);
  const samples = new Float64Array(allowed);
  const startMs = performance.now();
  let batches = 0;
  while (batches < allowed && performance.now() - startMs < bounds.durationMs) {
    const batchStartMs = performance.now();
    runBatch();
    samples[batches] = performance.now() - batchStartMs;
    batches += 1;
  }
  return summarize(name, batchRecords, recordBytesOnDisk, samples, batches, performance.now() - startMs);
}

/** The disk's ceiling: one positional write of the whole batch, then one fdatasync. */
export function rawCeilingRun(dir: string, batchRecords: number, recordBytes: number, bounds: RunBounds): BatchResult {
  const filePath = path.join(dir, `raw-${batchRecords}.bin`);
  const fd = fs.openSync(filePath, 'w');
  const batch = Buffer.alloc(batchRecords * recordBytes, 0x5a);
  let position = 0;
  try {
    return measureBatches('raw write+fdatasync', batchRecords, recordBytes, bounds, () => {
      position += fs.writeSync(fd, batch, 0, batch.length, position);
      fs.fdatasyncSync(fd);
    });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(filePath, { force: true });
  }
}

/** The engine driven directly on this thread: `append` of a batch of entries, then `flush`. */
export function engineRun(
  dir: string, batchRecords: number, payloadBytes: number, bounds: RunBounds, fsync: 'always' | 'unsafeNoFsync' = 'always',
): BatchResult {
  const walDir = path.join(dir, `engine-${batchRecords}-${fsync}`);
  const { wal } = WriteAheadLog.open(walDir, { fsync });
  const payload = new Uint8Array(payloadBytes).fill(0x42);
  const batch: LogEntry[] = new Array<LogEntry>(batchRecords);
  let nextIndex = 1;
  try {
    const name = fsync === 'always' ? 'engine append+flush' : 'engine, unsafeNoFsync';
    return measureBatches(name, batchRecords, recordBytesFor(payloadBytes), bounds, () => {
      for (let i = 0; i < batchRecords; i += 1) batch[i] = { term: 1, index: nextIndex + i, type: 1, data: payload };
      nextIndex += batchRecords;
      const appended = wal.append(batch);
      const flushed = appended.ok ? wal.flush() : appended;
      if (!flushed.ok) throw new Error(`${flushed.error.code}: ${flushed.error.message}`);
    });
  } finally {
    wal.close();
    fs.rmSync(walDir, { recursive: true, force: true });
  }
}

/** Bytes of pre-encoded batches the encoded run prepares before timing (it stops when they run out). */
export const encodedPoolBytesMax = 256 * 1024 * 1024;

/**
 * The engine fed records a producer already encoded (checksums included), as the WAL actor is fed
 * from its ring: `appendEncoded` + `flush` per batch. The batches are encoded before timing, as
 * another thread would have done, so the figure is the WAL thread's own cost.
 */
export function engineEncodedRun(dir: string, batchRecords: number, payloadBytes: number, bounds: RunBounds): BatchResult {
  const walDir = path.join(dir, `engine-encoded-${batchRecords}`);
  const recordBytes = recordBytesFor(payloadBytes);
  const batchBytes = batchRecords * recordBytes;
  const poolBatches = bounds.warmupBatches + batchesAllowed({ ...bounds, bytesMax: Math.min(bounds.bytesMax, encodedPoolBytesMax) }, batchBytes);
  const pool = Buffer.allocUnsafe(poolBatches * batchBytes);
  const payload = new Uint8Array(payloadBytes).fill(0x42);
  for (let index = 1, offset = 0; offset < pool.length; index += 1) offset = encodeRecordInto(pool, offset, { term: 1, index, type: 1, data: payload });
  const { wal } = WriteAheadLog.open(walDir);
  let batchStart = 0;
  try {
    return measureBatches('engine appendEncoded+flush', batchRecords, recordBytes, { ...bounds, batchesMax: poolBatches - bounds.warmupBatches }, () => {
      const appended = wal.appendEncoded(pool, batchStart, batchStart + batchBytes);
      batchStart += batchBytes;
      const flushed = appended.ok ? wal.flush() : appended;
      if (!flushed.ok) throw new Error(`${flushed.error.code}: ${flushed.error.message}`);
    });
  } finally {
    wal.close();
    fs.rmSync(walDir, { recursive: true, force: true });
  }
}

function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A markdown table of `results`; `ceiling` maps batch size to the raw records/s for a "% of raw" column. */
export function resultsTable(results: readonly BatchResult[], ceiling: ReadonlyMap<number, number>): string {
  const header = '| what | batch | bytes/record | records/s | MB/s | p50 µs | p99 µs | % of raw |\n|---|---:|---:|---:|---:|---:|---:|---:|';
  const rows = results.map((result) => {
    const raw = ceiling.get(result.batchRecords);
    const share = raw === undefined ? '' : `${formatNumber((100 * result.recordsPerSecond) / raw)}%`;
    return `| ${result.name} | ${result.batchRecords} | ${result.recordBytesOnDisk} | ${formatNumber(result.recordsPerSecond)} | `
      + `${formatNumber(result.megabytesPerSecond, 1)} | ${formatNumber(result.latencyMicrosP50)} | ${formatNumber(result.latencyMicrosP99)} | ${share} |`;
  });
  return [header, ...rows].join('\n');
}
