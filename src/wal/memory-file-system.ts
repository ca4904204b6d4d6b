/**
 * The in-memory, fault-injecting twin of `nodeFileSystem`, for tests and the simulator.
 *
 * It keeps two views of the disk: what a running process sees (the page cache: every write,
 * creation, rename and unlink at once) and what is durable (file bytes as of their last
 * fdatasync/fsync, directory entries as of their directory's last `syncDirectory`). Two kinds of
 * crash choose between them:
 *
 * `crashProcess()` — the process is killed (kill -9, an assertion, OOM) but the machine stays up:
 * the page cache survives, so EVERYTHING written stays visible to the next process — unsynced
 * bytes, files created and names renamed or unlinked without a directory fsync. Only the open
 * descriptors are gone. What was not synced is still not durable: a later `losePower()` loses it.
 *
 * `losePower(random?)` — the machine loses power: only what was made durable survives, stricter
 * than ext4 on purpose:
 * - a file's content reverts to what it held at its last fdatasync/fsync (with `random`, in
 *   [0, 1), a random prefix of the bytes appended since is kept: a torn tail);
 * - a directory's names revert to what they were at its last `syncDirectory`: a created file
 *   whose directory was never synced disappears, an unsynced rename or unlink is undone;
 * - directories themselves are durable as soon as they are made (the engine makes them once);
 * - every open descriptor is invalidated.
 *
 * Faults: `injectFault` makes the n-th next call of an operation (optionally on a path that
 * contains a string) throw an errno error; `capacityBytes` makes writes short and then fail with
 * ENOSPC once the disk is full, as a real disk does. `operationCounts` lets tests check how many
 * syscalls a flush costs.
 *
 * Invariants: an inode's `durableCopy` is set exactly when bytes below `durableBytes` were changed
 * since the last sync (copy on write), so an append-only file is never copied on sync.
 *
 * Runs on: tests and the simulator (any single thread).
 */
import path from 'node:path';
import { assert } from '../errors.js';
import { errnoError, type OpenMode, type WalFileSystem } from './file-system.js';

export type FileOperation =
  | 'open' | 'read' | 'write' | 'fdatasync' | 'fsync' | 'truncate' | 'close' | 'rename' | 'unlink'
  | 'syncDirectory' | 'listDirectory' | 'makeDirectory';

interface Inode {
  content: Buffer;
  sizeBytes: number;
  durableBytes: number;
  durableCopy: Buffer | null;
}

interface FaultRule {
  readonly operation: FileOperation;
  readonly code: string;
  readonly pathIncludes: string;
  skipCalls: number;
  remainingFailures: number;
}

interface OpenFile {
  readonly path: string;
  readonly inode: Inode;
}

const initialCapacityBytes = 4096;

export class MemoryFileSystem implements WalFileSystem {
  /** Total bytes of file content the disk holds before writes fail with ENOSPC. */
  capacityBytes = Number.MAX_SAFE_INTEGER;
  readonly operationCounts = new Map<FileOperation, number>();
  private files = new Map<string, Inode>();
  private durableFiles = new Map<string, Inode>();
  private readonly directories = new Set<string>(['/']);
  private readonly openFiles = new Map<number, OpenFile>();
  private nextFd = 3;
  private faults: FaultRule[] = [];

  /** Makes the call after `skipCalls` matching calls of `operation` fail `times` times with `code`. */
  injectFault(fault: { operation: FileOperation; code: string; pathIncludes?: string; skipCalls?: number; times?: number }): void {
    this.faults.push({
      operation: fault.operation,
      code: fault.code,
      pathIncludes: fault.pathIncludes ?? '',
      skipCalls: fault.skipCalls ?? 0,
      remainingFailures: fault.times ?? 1,
    });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /**
   * The process dies, the machine does not: every byte and name written so far stays visible
   * (the page cache survives), durability is unchanged, open descriptors are gone.
   */
  crashProcess(): void {
    this.openFiles.clear();
  }

  /** The machine loses power: everything not made durable is lost; `random` (in [0,1)) keeps a
   *  torn prefix of unsynced appends. */
  losePower(random?: () => number): void {
    for (const inode of new Set([...this.files.values(), ...this.durableFiles.values()])) {
      revertToDurable(inode, random);
    }
    this.files = new Map(this.durableFiles);
    this.openFiles.clear();
  }

  usedBytes(): number {
    let total = 0;
    for (const inode of new Set(this.files.values())) total += inode.sizeBytes;
    return total;
  }

  /** The current bytes of a file (a copy), for tests that corrupt or inspect files. */
  readFileForTest(filePath: string): Buffer {
    const inode = this.inodeAt(filePath);
    return Buffer.from(inode.content.subarray(0, inode.sizeBytes));
  }

  /** Replaces a file's content and marks it durable, for tests that plant damaged files. */
  writeFileForTest(filePath: string, content: Uint8Array): void {
    const inode: Inode = { content: Buffer.from(content), sizeBytes: content.length, durableBytes: content.length, durableCopy: null };
    this.files.set(filePath, inode);
    this.durableFiles.set(filePath, inode);
  }

  makeDirectory(dirPath: string): void {
    this.count('makeDirectory', dirPath);
    for (let current = path.resolve(dirPath); !this.directories.has(current); current = path.dirname(current)) {
      this.directories.add(current);
    }
  }

  listDirectory(dirPath: string): string[] {
    this.count('listDirectory', dirPath);
    const resolved = path.resolve(dirPath);
    if (!this.directories.has(resolved)) throw errnoError('ENOENT', `no directory ${dirPath}`);
    const names: string[] = [];
    for (const filePath of this.files.keys()) if (path.dirname(filePath) === resolved) names.push(path.basename(filePath));
    return names;
  }

  exists(filePath: string): boolean {
    const resolved = path.resolve(filePath);
    return this.files.has(resolved) || this.directories.has(resolved);
  }

  open(filePath: string, mode: OpenMode): number {
    const resolved = path.resolve(filePath);
    this.count('open', resolved);
    let inode = this.files.get(resolved);
    if (mode === 'createExclusive' && inode !== undefined) throw errnoError('EEXIST', `${filePath} exists`);
    if ((mode === 'read' || mode === 'readWrite') && inode === undefined) throw errnoError('ENOENT', `no file ${filePath}`);
    if (!this.directories.has(path.dirname(resolved))) throw errnoError('ENOENT', `no directory for ${filePath}`);
    if (inode === undefined) {
      inode = { content: Buffer.alloc(initialCapacityBytes), sizeBytes: 0, durableBytes: 0, durableCopy: null };
      this.files.set(resolved, inode);
    } else if (mode === 'createTruncate') {
      // Emptying a file is not durable until its next sync either.
      if (inode.durableBytes > 0) saveDurableCopy(inode);
      resize(inode, 0);
    }
    const fd = this.nextFd++;
    this.openFiles.set(fd, { path: resolved, inode });
    return fd;
  }

  sizeOf(fd: number): number {
    return this.fileOf(fd).inode.sizeBytes;
  }

  read(fd: number, target: Uint8Array, targetOffset: number, length: number, position: number): number {
    const file = this.fileOf(fd);
    this.count('read', file.path);
    const bytes = Math.max(0, Math.min(length, file.inode.sizeBytes - position));
    target.set(file.inode.content.subarray(position, position + bytes), targetOffset);
    return bytes;
  }

  write(fd: number, source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    const file = this.fileOf(fd);
    this.count('write', file.path);
    const growthBytes = Math.max(0, position + length - file.inode.sizeBytes);
    const freeBytes = this.capacityBytes - this.usedBytes();
    let bytes = length;
    if (growthBytes > freeBytes) {
      bytes = Math.max(0, file.inode.sizeBytes + freeBytes - position);
      if (bytes <= 0) throw errnoError('ENOSPC', `no space left writing ${file.path}`, 'write');
    }
    const inode = file.inode;
    if (position < inode.durableBytes) saveDurableCopy(inode);
    if (position + bytes > inode.sizeBytes) resize(inode, position + bytes);
    inode.content.set(source.subarray(sourceOffset, sourceOffset + bytes), position);
    return bytes;
  }

  fdatasync(fd: number): void {
    const file = this.fileOf(fd);
    this.count('fdatasync', file.path);
    markDurable(file.inode);
  }

  fsync(fd: number): void {
    const file = this.fileOf(fd);
    this.count('fsync', file.path);
    markDurable(file.inode);
  }

  truncate(fd: number, lengthBytes: number): void {
    const file = this.fileOf(fd);
    this.count('truncate', file.path);
    if (lengthBytes < file.inode.durableBytes) saveDurableCopy(file.inode);
    resize(file.inode, lengthBytes);
  }

  close(fd: number): void {
    const file = this.fileOf(fd);
    this.count('close', file.path);
    this.openFiles.delete(fd);
  }

  rename(fromPath: string, toPath: string): void {
    const from = path.resolve(fromPath);
    this.count('rename', from);
    const inode = this.files.get(from);
    if (inode === undefined) throw errnoError('ENOENT', `no file ${fromPath}`);
    this.files.delete(from);
    this.files.set(path.resolve(toPath), inode);
  }

  unlink(filePath: string): void {
    const resolved = path.resolve(filePath);
    this.count('unlink', resolved);
    if (!this.files.delete(resolved)) throw errnoError('ENOENT', `no file ${filePath}`);
  }

  syncDirectory(dirPath: string): void {
    const resolved = path.resolve(dirPath);
    this.count('syncDirectory', resolved);
    for (const filePath of [...this.durableFiles.keys()]) {
      if (path.dirname(filePath) === resolved) this.durableFiles.delete(filePath);
    }
    for (const [filePath, inode] of this.files) {
      if (path.dirname(filePath) === resolved) this.durableFiles.set(filePath, inode);
    }
  }

  private inodeAt(filePath: string): Inode {
    const inode = this.files.get(path.resolve(filePath));
    if (inode === undefined) throw errnoError('ENOENT', `no file ${filePath}`);
    return inode;
  }

  private fileOf(fd: number): OpenFile {
    const file = this.openFiles.get(fd);
    if (file === undefined) throw errnoError('EBADF', `descriptor ${fd} is not open`);
    return file;
  }

  /** Counts the call, then throws if an injected fault matches it. */
  private count(operation: FileOperation, filePath: string): void {
    this.operationCounts.set(operation, (this.operationCounts.get(operation) ?? 0) + 1);
    const fault = this.faults.find((rule) => rule.operation === operation && filePath.includes(rule.pathIncludes)
      && rule.remainingFailures > 0);
    if (fault === undefined) return;
    if (fault.skipCalls > 0) {
      fault.skipCalls -= 1;
      return;
    }
    fault.remainingFailures -= 1;
    throw errnoError(fault.code, `injected ${operation} failure on ${filePath}`, operation);
  }
}

function resize(inode: Inode, sizeBytes: number): void {
  if (sizeBytes > inode.content.length) {
    const grown = Buffer.alloc(Math.max(sizeBytes, inode.content.length * 2));
    grown.set(inode.content.subarray(0, inode.sizeBytes));
    inode.content = grown;
  } else if (sizeBytes < inode.sizeBytes) {
    inode.content.fill(0, sizeBytes, inode.sizeBytes);
  }
  inode.sizeBytes = sizeBytes;
}

function saveDurableCopy(inode: Inode): void {
  if (inode.durableCopy === null) inode.durableCopy = Buffer.from(inode.content.subarray(0, inode.durableBytes));
}

function markDurable(inode: Inode): void {
  inode.durableBytes = inode.sizeBytes;
  inode.durableCopy = null;
}

function revertToDurable(inode: Inode, random: (() => number) | undefined): void {
  if (inode.durableCopy !== null) {
    const copy = inode.durableCopy;
    inode.content = Buffer.alloc(Math.max(initialCapacityBytes, copy.length));
    inode.content.set(copy);
    inode.sizeBytes = copy.length;
    inode.durableCopy = null;
    return;
  }
  const unsyncedBytes = inode.sizeBytes - inode.durableBytes;
  const keptBytes = random === undefined || unsyncedBytes <= 0 ? 0 : Math.floor(random() * (unsyncedBytes + 1));
  assert(keptBytes >= 0 && keptBytes <= Math.max(0, unsyncedBytes), `torn tail keeps ${keptBytes} of ${unsyncedBytes} bytes`);
  resize(inode, inode.durableBytes + keptBytes);
  inode.durableBytes = inode.sizeBytes;
}
