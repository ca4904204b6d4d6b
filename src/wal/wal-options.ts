/**
 * The WAL engine's settings, their defaults and bounds, in one place, validated at open with
 * errors that name the field and the rule.
 *
 * Runs on: WAL writer thread.
 */
import { falconError, FalconFailure } from '../errors.js';
import { nodeFileSystem, type WalFileSystem } from './file-system.js';

const mebibyte = 1024 * 1024;

export interface WalOptions {
  /** The file system; tests inject `MemoryFileSystem`. */
  readonly fileSystem: WalFileSystem;
  /** A segment rotates before a record would take it past this size (a lone larger record gets
   *  a segment of its own). Bounds what recovery reads into memory at once. */
  readonly segmentBytes: number;
  /** 'always': fdatasync before anything is reported durable. 'unsafeNoFsync' skips the
   *  fdatasync of log batches (hard state and snapshots are still synced): benchmarks only. */
  readonly fsync: 'always' | 'unsafeNoFsync';
  /** Recent entries kept in memory to serve reads without touching the disk. */
  readonly tailCacheEntries: number;
  /** …and the bytes those entries may hold. */
  readonly tailCacheBytes: number;
  /** Size of one staging buffer a batch is encoded into; a batch larger than this is written out
   *  in several writes (still one fdatasync). */
  readonly arenaBytes: number;
  /** The largest record (header included); longer lengths on disk are corruption. */
  readonly recordBytesMax: number;
  /** The most bytes one `read` returns from disk, so a catch-up read never blocks appends for long. */
  readonly readBytesMax: number;
  /** The largest snapshot file: saving a larger one is refused (RESOURCE_EXHAUSTED), loading one
   *  is corruption. */
  readonly snapshotBytesMax: number;
  /** On corruption (outside the newest segment's tail, a damaged hard state, a snapshot file that
   *  does not verify): cut or drop the damaged part and persist the catch-up marker instead of
   *  refusing to open. */
  readonly repairCorruption: boolean;
}

export const walOptionDefaults: Omit<WalOptions, 'fileSystem'> = {
  segmentBytes: 64 * mebibyte,
  fsync: 'always',
  tailCacheEntries: 8192,
  tailCacheBytes: 16 * mebibyte,
  arenaBytes: 4 * mebibyte,
  recordBytesMax: 16 * mebibyte,
  readBytesMax: 4 * mebibyte,
  snapshotBytesMax: 1024 * mebibyte,
  repairCorruption: false,
};

/** Upper bounds the options are checked against (segment offsets are u32, Buffers ≤ 2 GiB). */
const segmentBytesMax = 1024 * mebibyte;
const recordBytesMaxMax = 256 * mebibyte;
const snapshotBytesMaxMax = 2047 * mebibyte;

function requireInteger(name: string, value: number, minimum: number, maximum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new FalconFailure(falconError('CONFIG_INVALID',
      `wal option ${name} must be an integer from ${minimum} to ${maximum}, got ${value}`, { field: name }));
  }
}

/** Fills in defaults and checks every field; throws FalconFailure(CONFIG_INVALID) naming the field. */
export function resolveWalOptions(partial: Partial<WalOptions> = {}): WalOptions {
  const options: WalOptions = { fileSystem: nodeFileSystem, ...walOptionDefaults, ...partial };
  requireInteger('recordBytesMax', options.recordBytesMax, 64, recordBytesMaxMax);
  requireInteger('segmentBytes', options.segmentBytes, 64, segmentBytesMax);
  requireInteger('tailCacheEntries', options.tailCacheEntries, 1, 16 * mebibyte);
  requireInteger('tailCacheBytes', options.tailCacheBytes, 1, 8 * 1024 * mebibyte);
  requireInteger('arenaBytes', options.arenaBytes, 64, 1024 * mebibyte);
  requireInteger('readBytesMax', options.readBytesMax, 1, 1024 * mebibyte);
  requireInteger('snapshotBytesMax', options.snapshotBytesMax, 64, snapshotBytesMaxMax);
  if (options.fsync !== 'always' && options.fsync !== 'unsafeNoFsync') {
    throw new FalconFailure(falconError('CONFIG_INVALID',
      `wal option fsync must be 'always' or 'unsafeNoFsync', got ${String(options.fsync)}`, { field: 'fsync' }));
  }
  return options;
}
