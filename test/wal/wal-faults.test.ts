/**
 * Faults injected through the file-system interface: a failed fsync or write stops the engine
 * without reporting durability (and it never retries the fsync); a full disk yields DISK_FULL,
 * drops the failed batch, keeps every durable entry readable, and accepts a retry once space is
 * freed.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { Outcome } from '../../src/errors.js';
import { MemoryFileSystem, type FileOperation } from '../../src/wal/memory-file-system.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import { encodeRecords } from '../../src/wal/wal-record.js';
import { appendAndFlush, entriesFor, isIntactEntry, memoryWalDir, openMemoryWal, readAll, segmentNames, unwrap } from './wal-test-helpers.js';

function codeOf<T>(outcome: Outcome<T>): string {
  return outcome.ok ? 'ok' : outcome.error.code;
}

function totalCalls(fileSystem: MemoryFileSystem): number {
  let total = 0;
  for (const count of fileSystem.operationCounts.values()) total += count;
  return total;
}

function expectFailsFast(wal: WriteAheadLog, fileSystem: MemoryFileSystem, code: string): void {
  const callsBefore = totalCalls(fileSystem);
  expect(codeOf(wal.append(entriesFor(wal.lastIndex + 1, 1, 1)))).to.equal(code);
  expect(codeOf(wal.flush())).to.equal(code);
  expect(codeOf(wal.read(1, 5, 1000))).to.equal(code);
  expect(codeOf(wal.saveHardState({ term: 9, vote: null, commit: 0 }))).to.equal(code);
  expect(codeOf(wal.truncateFrom(2))).to.equal(code);
  expect(codeOf(wal.compact(0))).to.equal(code);
  expect(totalCalls(fileSystem), 'a failed engine touches the disk no more').to.equal(callsBefore);
}

describe('WAL faults: EIO', () => {
  for (const operation of ['fdatasync', 'write'] as const satisfies readonly FileOperation[]) {
    it(`EIO on ${operation} stops the engine without reporting durability, and every later call fails fast`, () => {
      const fileSystem = new MemoryFileSystem();
      const { wal } = openMemoryWal(fileSystem);
      appendAndFlush(wal, entriesFor(1, 10, 1));
      unwrap(wal.append(entriesFor(11, 10, 1)));
      fileSystem.injectFault({ operation, code: 'EIO' });
      const fdatasyncsBefore = fileSystem.operationCounts.get('fdatasync') ?? 0;
      const outcome = wal.flush();
      expect(codeOf(outcome)).to.equal('IO_ERROR');
      expect(outcome.ok ? '' : outcome.error.message).to.include('EIO');
      expect(wal.durableLastIndex, 'no durability reported after a failed call').to.equal(10);
      expect(wal.failed?.code).to.equal('IO_ERROR');
      const fdatasyncAttempts = (fileSystem.operationCounts.get('fdatasync') ?? 0) - fdatasyncsBefore;
      expect(fdatasyncAttempts, 'the fsync is never retried').to.equal(operation === 'fdatasync' ? 1 : 0);
      expectFailsFast(wal, fileSystem, 'IO_ERROR');

      fileSystem.clearFaults();
      fileSystem.losePower();
      const { wal: reopened, recovered } = openMemoryWal(fileSystem);
      expect(recovered.lastIndex).to.equal(10);
      expect(readAll(reopened).every((entry) => isIntactEntry(entry, 1))).to.equal(true);
    });
  }

  it('ENOSPC reported by fdatasync is fatal too: after a failed fsync nothing unsynced can be trusted', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    unwrap(wal.append(entriesFor(1, 10, 1)));
    fileSystem.injectFault({ operation: 'fdatasync', code: 'ENOSPC' });
    expect(codeOf(wal.flush())).to.equal('IO_ERROR');
    expect(wal.durableLastIndex).to.equal(0);
    expectFailsFast(wal, fileSystem, 'IO_ERROR');
  });

  it('EIO while a large batch spills out of its staging buffer fails the append', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { arenaBytes: 1024, segmentBytes: 1 << 20 });
    fileSystem.injectFault({ operation: 'write', code: 'EIO' });
    expect(codeOf(wal.append(entriesFor(1, 100, 1)))).to.equal('IO_ERROR');
    expect(wal.durableLastIndex).to.equal(0);
  });
});

describe('WAL faults: full disk', () => {
  it('DISK_FULL drops the failed batch, keeps durable entries readable, and accepts a retry after space is freed', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes: 1 << 20 });
    appendAndFlush(wal, entriesFor(1, 50, 1));
    const segmentPath = `${memoryWalDir}/${segmentNames(fileSystem)[0]}`;
    const durableBytes = fileSystem.readFileForTest(segmentPath).length;
    fileSystem.capacityBytes = fileSystem.usedBytes() + 500;
    unwrap(wal.append(entriesFor(51, 50, 2)));
    const outcome = wal.flush();
    expect(codeOf(outcome)).to.equal('DISK_FULL');
    expect(outcome.ok ? '' : outcome.error.message).to.match(/disk full/);
    expect(wal.failed, 'a full disk is not fatal').to.equal(null);
    expect(wal).to.include({ lastIndex: 50, durableLastIndex: 50, lastTerm: 1 });
    expect(fileSystem.readFileForTest(segmentPath).length, 'cut back to the durable length').to.equal(durableBytes);
    expect(readAll(wal).every((entry) => isIntactEntry(entry, 1))).to.equal(true);
    expect(codeOf(wal.flush()), 'still full').to.equal('ok');

    fileSystem.capacityBytes = Number.MAX_SAFE_INTEGER;
    expect(appendAndFlush(wal, entriesFor(51, 50, 2))).to.equal(100);
    fileSystem.losePower();
    const { wal: reopened } = openMemoryWal(fileSystem, { segmentBytes: 1 << 20 });
    const entries = readAll(reopened);
    expect(entries.map((entry) => entry.index)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(entries.every((entry) => isIntactEntry(entry, entry.index <= 50 ? 1 : 2))).to.equal(true);
  });

  it('DISK_FULL on a batch that opens a new segment leaves no empty segment behind', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    appendAndFlush(wal, entriesFor(1, 30, 1));
    const namesBefore = segmentNames(fileSystem);
    fileSystem.capacityBytes = fileSystem.usedBytes();
    unwrap(wal.append(entriesFor(31, 40, 1)));
    expect(codeOf(wal.flush())).to.equal('DISK_FULL');
    expect(segmentNames(fileSystem)).to.deep.equal(namesBefore);
    fileSystem.capacityBytes = Number.MAX_SAFE_INTEGER;
    expect(appendAndFlush(wal, entriesFor(31, 40, 1))).to.equal(70);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes: 2048 }).recovered.lastIndex).to.equal(70);
  });

  it('DISK_FULL while pre-encoded records spill out of their staging buffer drops them all, and a retry succeeds', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { arenaBytes: 1024, segmentBytes: 1 << 20 });
    appendAndFlush(wal, entriesFor(1, 10, 1));
    fileSystem.capacityBytes = fileSystem.usedBytes() + 1500;
    const records = encodeRecords(entriesFor(11, 60, 1));
    expect(codeOf(wal.appendEncoded(records))).to.equal('DISK_FULL');
    expect(wal).to.include({ lastIndex: 10, durableLastIndex: 10 });
    fileSystem.capacityBytes = Number.MAX_SAFE_INTEGER;
    unwrap(wal.appendEncoded(records));
    expect(unwrap(wal.flush())).to.equal(70);
    fileSystem.losePower();
    const { wal: reopened } = openMemoryWal(fileSystem, { segmentBytes: 1 << 20 });
    expect(readAll(reopened).map((entry) => entry.index)).to.deep.equal(Array.from({ length: 70 }, (_, i) => i + 1));
  });

  it('DISK_FULL when the hard-state file cannot be created leaves none in force; once it exists, saves need no space', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    fileSystem.capacityBytes = fileSystem.usedBytes();
    expect(codeOf(wal.saveHardState({ term: 2, vote: 'n1', commit: 0 }))).to.equal('DISK_FULL');
    expect(wal.hardState).to.equal(null);
    fileSystem.capacityBytes = Number.MAX_SAFE_INTEGER;
    unwrap(wal.saveHardState({ term: 2, vote: 'n1', commit: 0 }));
    // Full again: a vote is written in place, in the file's own bytes.
    fileSystem.capacityBytes = fileSystem.usedBytes();
    unwrap(wal.saveHardState({ term: 3, vote: 'n2', commit: 0 }));
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.deep.equal({ term: 3, vote: 'n2', commit: 0, cluster: null });
  });
});
