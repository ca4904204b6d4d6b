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
  readonly memory = new MemoryFileSystem();
  /** Mutating calls left before the kill; 0 when no kill is armed. */
  private killAfter = 0;

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
    this.memory.crashProcess();
  }

  /** The power failed: only what was synced stays; `random` tears unsynced appends. */
  losePower(random: () => number): void {
    this.killAfter = 0;
    this.memory.losePower(random);
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
    return this.memory.open(path, mode);
  }

  sizeOf(fd: number): number {
    return this.memory.sizeOf(fd);
  }

  read(fd: number, target: Uint8Array, targetOffset: number, length: number, position: number): number {
    return this.memory.read(fd, target, targetOffset, length, position);
  }

  write(fd: number, source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    this.mutate();
    return this.memory.write(fd, source, sourceOffset, length, position);
  }

  fdatasync(fd: number): void {
    this.mutate();
    this.memory.fdatasync(fd);
  }

  fsync(fd: number): void {
    this.mutate();
    this.memory.fsync(fd);
  }

  truncate(fd: number, lengthBytes: number): void {
    this.mutate();
    this.memory.truncate(fd, lengthBytes);
  }

  close(fd: number): void {
    this.memory.close(fd);
  }

  rename(fromPath: string, toPath: string): void {
    this.mutate();
    this.memory.rename(fromPath, toPath);
  }

  unlink(path: string): void {
    this.mutate();
    this.memory.unlink(path);
  }

  syncDirectory(path: string): void {
    this.mutate();
    this.memory.syncDirectory(path);
  }
}
