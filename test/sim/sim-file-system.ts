/**
 * A node's disk in the simulator: the in-memory file system of the WAL tests, which survives the
 * node's crashes, plus kill points. `armKill(operations)` makes the n-th next mutating call
 * (write, fdatasync, fsync, truncate, rename, unlink, syncDirectory) throw `SimulatedKill` instead
 * of running: the process dies exactly there, between two system calls — after a `write` and
 * before its `fdatasync`, after a rename and before the directory sync, and so on. The WAL engine
 * rethrows what is not an errno error, so the kill reaches the simulated WAL thread (sim-wal.ts),
 * which turns it into a process crash.
 *
 * What survives a crash is the file system's business: a process kill keeps every byte written
 * (the page cache survives), a power loss keeps only what was synced (memory-file-system.ts).
 *
 * Damage at rest, for a stopped node only (sim-damage.ts): `wipe()` replaces the disk with an empty
 * one (a replaced or wiped disk), `flipByte` changes one byte of a file whose content is all
 * synced, in the page cache and on the platter alike (a bit rot the checksum must catch). Which
 * files hold unsynced bytes is tracked here (`unsyncedPaths`): written or truncated through a
 * descriptor since that descriptor's last fdatasync/fsync.
 *
 * Runs on: the simulator.
 */
import type { OpenMode, WalFileSystem } from '../../src/wal/file-system.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';

export class SimulatedKill extends Error {
  constructor() {
    super('simulated kill -9 between two system calls');
    this.name = 'SimulatedKill';
  }
}

export class SimFileSystem implements WalFileSystem {
  private memory = new MemoryFileSystem();
  /** Mutating calls left before the kill; 0 when no kill is armed. */
  private killAfter = 0;
  private readonly pathOfFd = new Map<number, string>();
  /** Files written or truncated and not synced since (by path; a rename carries it along). */
  private readonly unsyncedPaths = new Set<string>();

  /** The disk is replaced by an empty one (the node must be stopped). */
  wipe(): void {
    this.memory = new MemoryFileSystem();
    this.killAfter = 0;
    this.pathOfFd.clear();
    this.unsyncedPaths.clear();
  }

  /** True when every byte of `filePath` was synced (a power loss would keep it as it is). */
  isSynced(filePath: string): boolean {
    return !this.unsyncedPaths.has(filePath);
  }

  /** The file's bytes as a restarted process reads them. */
  readFile(filePath: string): Buffer {
    return this.memory.readFileForTest(filePath);
  }

  /** Damage at rest: XORs the byte at `offset` of a fully synced file with `mask` (not 0). */
  flipByte(filePath: string, offset: number, mask: number): void {
    if (!this.isSynced(filePath) || mask === 0) throw new Error(`flipByte on ${filePath}: unsynced file or empty mask`);
    const bytes = this.memory.readFileForTest(filePath);
    bytes[offset] = (bytes[offset] ?? 0) ^ mask;
    this.memory.writeFileForTest(filePath, bytes);
  }

  armKill(operations: number): void {
    this.killAfter = Math.max(1, operations);
  }

  disarm(): void {
    this.killAfter = 0;
  }

  /** The process died: every byte written stays (page cache); descriptors of the dead process
   *  are never used again. */
  crashProcess(): void {
    this.killAfter = 0;
    this.pathOfFd.clear();
    this.memory.crashProcess();
  }

  /** The power failed: only what was synced stays; `random` tears unsynced appends. */
  losePower(random: () => number): void {
    this.killAfter = 0;
    this.pathOfFd.clear();
    // What was not synced is gone or torn; the torn tail is what the platter holds now.
    this.unsyncedPaths.clear();
    this.memory.losePower(random);
  }

  private markUnsynced(fd: number): void {
    const path = this.pathOfFd.get(fd);
    if (path !== undefined) this.unsyncedPaths.add(path);
  }

  private markSynced(fd: number): void {
    const path = this.pathOfFd.get(fd);
    if (path !== undefined) this.unsyncedPaths.delete(path);
  }

  private mutate(): void {
    if (this.killAfter === 0) return;
    this.killAfter -= 1;
    if (this.killAfter === 0) throw new SimulatedKill();
  }

  makeDirectory(path: string): void {
    this.memory.makeDirectory(path);
  }

  listDirectory(path: string): string[] {
    return this.memory.listDirectory(path);
  }

  exists(path: string): boolean {
    return this.memory.exists(path);
  }

  open(path: string, mode: OpenMode): number {
    const fd = this.memory.open(path, mode);
    this.pathOfFd.set(fd, path);
    if (mode === 'createTruncate') this.unsyncedPaths.add(path);
    return fd;
  }

  sizeOf(fd: number): number {
    return this.memory.sizeOf(fd);
  }

  read(fd: number, target: Uint8Array, targetOffset: number, length: number, position: number): number {
    return this.memory.read(fd, target, targetOffset, length, position);
  }

  write(fd: number, source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    this.mutate();
    this.markUnsynced(fd);
    return this.memory.write(fd, source, sourceOffset, length, position);
  }

  fdatasync(fd: number): void {
    this.mutate();
    this.memory.fdatasync(fd);
    this.markSynced(fd);
  }

  fsync(fd: number): void {
    this.mutate();
    this.memory.fsync(fd);
    this.markSynced(fd);
  }

  truncate(fd: number, lengthBytes: number): void {
    this.mutate();
    this.markUnsynced(fd);
    this.memory.truncate(fd, lengthBytes);
  }

  close(fd: number): void {
    this.memory.close(fd);
    this.pathOfFd.delete(fd);
  }

  rename(fromPath: string, toPath: string): void {
    this.mutate();
    this.memory.rename(fromPath, toPath);
    if (this.unsyncedPaths.delete(fromPath)) this.unsyncedPaths.add(toPath);
    else this.unsyncedPaths.delete(toPath);
  }

  unlink(path: string): void {
    this.mutate();
    this.memory.unlink(path);
    this.unsyncedPaths.delete(path);
  }

  syncDirectory(path: string): void {
    this.mutate();
    this.memory.syncDirectory(path);
  }
}
