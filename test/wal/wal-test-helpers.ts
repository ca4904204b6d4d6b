/**
 * Shared helpers for the WAL tests: a seeded random source, deterministic entries whose payload
 * can be recomputed from their index (so any reader can verify content), temp directories, and
 * opening an engine over a MemoryFileSystem.
 *
 * Runs on: the mocha process (and the crash child process).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Outcome } from '../../src/errors.js';
import type { LogEntry } from '../../src/log/log-entry.js';
import { checksumOf } from '../../src/wal/checksum.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { WriteAheadLog } from '../../src/wal/wal.js';
import type { WalOptions } from '../../src/wal/wal-options.js';

/** mulberry32: a small, seeded, reproducible random source returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from the environment (WAL_TEST_SEED) or the clock, to print on failure. */
export function testSeed(): number {
  const fromEnvironment = Number(process.env.WAL_TEST_SEED);
  return Number.isSafeInteger(fromEnvironment) && fromEnvironment > 0 ? fromEnvironment : Date.now() % 1_000_000_007;
}

/** The payload every test writes for `index`: recomputable, of varying length (0..payloadBytesMax). */
export function payloadFor(index: number, payloadBytesMax = 300): Uint8Array {
  const length = index % (payloadBytesMax + 1);
  const payload = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) payload[i] = (index * 31 + i * 7) & 0xff;
  return payload;
}

export function entryFor(index: number, term: number, payloadBytesMax = 300): LogEntry {
  return { index, term, type: index % 3, data: payloadFor(index, payloadBytesMax) };
}

export function entriesFor(fromIndex: number, count: number, term: number, payloadBytesMax = 300): LogEntry[] {
  return Array.from({ length: count }, (_, offset) => entryFor(fromIndex + offset, term, payloadBytesMax));
}

/** True when `entry` is exactly what `entryFor(entry.index, term)` wrote (term checked if given). */
export function isIntactEntry(entry: LogEntry, term?: number, payloadBytesMax = 300): boolean {
  const expected = payloadFor(entry.index, payloadBytesMax);
  if (entry.type !== entry.index % 3 || (term !== undefined && entry.term !== term)) return false;
  return Buffer.from(entry.data).equals(Buffer.from(expected));
}

/** The value of an outcome, or a thrown Error naming the code and message (test-side only). */
export function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.value;
}

export async function makeTemporaryDirectory(prefix: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDirectory(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
}

export const memoryWalDir = '/data/n1/wal';

/** Opens an engine over `fileSystem` in `memoryWalDir` with small segments unless told otherwise. */
export function openMemoryWal(fileSystem: MemoryFileSystem, options: Partial<WalOptions> = {}): ReturnType<typeof WriteAheadLog.open> {
  return WriteAheadLog.open(memoryWalDir, { fileSystem, segmentBytes: 4096, ...options });
}

/** Appends `entries` and flushes; returns the durable last index. */
export function appendAndFlush(wal: WriteAheadLog, entries: readonly LogEntry[]): number {
  unwrap(wal.append(entries));
  return unwrap(wal.flush());
}

/** Every entry of the log, read in bounded chunks. */
export function readAll(wal: WriteAheadLog, chunkBytes = 64 * 1024): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let index = wal.firstIndex; index <= wal.lastIndex;) {
    const chunk = unwrap(wal.read(index, wal.lastIndex, chunkBytes));
    if (chunk.length === 0) throw new Error(`read(${index}) returned nothing below last index ${wal.lastIndex}`);
    entries.push(...chunk);
    index += chunk.length;
  }
  return entries;
}

/** Segment file names in `dir` of a MemoryFileSystem, in log order. */
export function segmentNames(fileSystem: MemoryFileSystem, dir = memoryWalDir): string[] {
  return fileSystem.listDirectory(dir).filter((name) => name.endsWith('.seg')).sort();
}

/** A hard-state file as versions 1 and 2 wrote it (one record; version 2 adds the cluster name). */
export function singleRecordHardStateFile(version: 1 | 2, term: number, vote: string | null, commit: number, cluster: string | null = null): Buffer {
  const voteBytes = Buffer.from(vote ?? '', 'utf8');
  const clusterBytes = Buffer.from(cluster ?? '', 'utf8');
  const bytes = Buffer.alloc(26 + voteBytes.length + (version === 2 ? 1 + clusterBytes.length : 0));
  bytes.write('FQHS', 0, 'latin1');
  bytes[8] = version;
  bytes.writeUInt32LE(term, 9);
  bytes.writeUInt32LE(commit, 17);
  bytes[25] = voteBytes.length;
  voteBytes.copy(bytes, 26);
  if (version === 2) {
    bytes[26 + voteBytes.length] = clusterBytes.length;
    clusterBytes.copy(bytes, 27 + voteBytes.length);
  }
  bytes.writeUInt32LE(checksumOf(bytes.subarray(8), 0), 4);
  return bytes;
}

/** Deterministic snapshot data of `bytes` bytes, different per `seed`. */
export function snapshotDataOf(bytes: number, seed: number): Buffer {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 1) data[i] = (i * 31 + seed * 7) & 0xff;
  return data;
}

/** Saves a local snapshot of `data` chunk by chunk (chunks of `chunkBytes`), as the Replicator does. */
export function saveSnapshotInChunks(wal: WriteAheadLog, index: number, term: number, data: Buffer,
  membership: { voters: string[]; learners: string[] } = { voters: ['n1', 'n2', 'n3'], learners: [] }, chunkBytes = 4096): void {
  unwrap(wal.beginSnapshot({ index, term, membership }));
  for (let offset = 0; offset < data.length; offset += chunkBytes) unwrap(wal.appendSnapshotChunk(index, data.subarray(offset, offset + chunkBytes)));
  unwrap(wal.finishSnapshot(index));
}
