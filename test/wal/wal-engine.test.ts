/**
 * The engine's everyday promises: group commit (one write + one fdatasync per flush), nothing
 * durable before its fdatasync, rotation, reads from the tail cache and from disk, and a restart
 * that gives back exactly what was durable.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { WriteAheadLog } from '../../src/wal/wal.js';
import { encodeRecords } from '../../src/wal/wal-record.js';
import {
  appendAndFlush, entriesFor, entryFor, isIntactEntry, makeTemporaryDirectory, memoryWalDir, openMemoryWal, readAll,
  removeDirectory, segmentNames, unwrap,
} from './wal-test-helpers.js';

function counts(fileSystem: MemoryFileSystem): { writes: number; fdatasyncs: number } {
  return { writes: fileSystem.operationCounts.get('write') ?? 0, fdatasyncs: fileSystem.operationCounts.get('fdatasync') ?? 0 };
}

describe('WAL engine: group commit, rotation and reads', () => {
  it('a fresh directory opens as an empty log', () => {
    const { wal, recovered } = openMemoryWal(new MemoryFileSystem());
    expect(recovered).to.include({ firstIndex: 1, lastIndex: 0, lastTerm: 0, hardState: null, snapshot: null, tornTail: null });
    expect(wal.durableLastIndex).to.equal(0);
    expect(unwrap(wal.read(1, 10, 1000))).to.deep.equal([]);
  });

  it('writes a batch with one write and one fdatasync, and reports durability only from flush', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes: 1024 * 1024 });
    appendAndFlush(wal, entriesFor(1, 1, 1));
    const before = counts(fileSystem);
    expect(unwrap(wal.append(entriesFor(2, 64, 1)))).to.equal(65);
    expect(wal.durableLastIndex, 'nothing is durable before flush').to.equal(1);
    expect(counts(fileSystem), 'append alone makes no syscall').to.deep.equal(before);
    expect(unwrap(wal.flush())).to.equal(65);
    expect(counts(fileSystem)).to.deep.equal({ writes: before.writes + 1, fdatasyncs: before.fdatasyncs + 1 });
    expect(unwrap(wal.flush()), 'an empty flush is free').to.equal(65);
    expect(counts(fileSystem).fdatasyncs).to.equal(before.fdatasyncs + 1);
  });

  it('unsafeNoFsync never calls fdatasync on the log', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { fsync: 'unsafeNoFsync' });
    for (let batch = 0; batch < 10; batch += 1) appendAndFlush(wal, entriesFor(batch * 10 + 1, 10, 1));
    expect(fileSystem.operationCounts.get('fdatasync') ?? 0).to.equal(0);
    expect(wal.durableLastIndex).to.equal(100);
  });

  it('rotates segments at segmentBytes, naming each by its first index, and reads across them', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    for (let batch = 0; batch < 20; batch += 1) appendAndFlush(wal, entriesFor(batch * 10 + 1, 10, 1 + Math.floor(batch / 5)));
    const names = segmentNames(fileSystem);
    expect(names.length).to.be.greaterThan(5);
    expect(names[0]).to.equal('00000000000000000001.seg');
    for (const name of names) {
      expect(fileSystem.readFileForTest(`${memoryWalDir}/${name}`).length).to.be.at.most(2048);
    }
    const entries = readAll(wal, 3000);
    expect(entries.map((entry) => entry.index)).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(entries.every((entry) => isIntactEntry(entry))).to.equal(true);
  });

  it('a batch that crosses a rotation is durable in both segments', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    appendAndFlush(wal, entriesFor(1, 80, 1));
    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(recovered.lastIndex).to.equal(80);
    expect(segmentNames(fileSystem).length).to.be.greaterThan(1);
    expect(readAll(reopened).every((entry) => isIntactEntry(entry, 1))).to.equal(true);
  });

  it('serves old entries from disk and recent ones from the tail cache, honouring bytesMax', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { tailCacheEntries: 16, segmentBytes: 8192 });
    for (let batch = 0; batch < 10; batch += 1) appendAndFlush(wal, entriesFor(batch * 10 + 1, 10, 2));
    const readsBefore = fileSystem.operationCounts.get('read') ?? 0;
    const recent = unwrap(wal.read(90, 100, 1024 * 1024));
    expect(recent.map((entry) => entry.index)).to.deep.equal(Array.from({ length: 11 }, (_, i) => i + 90));
    expect(fileSystem.operationCounts.get('read') ?? 0, 'recent entries come from memory').to.equal(readsBefore);
    const old = unwrap(wal.read(5, 30, 1024 * 1024));
    expect(old.map((entry) => entry.index)).to.deep.equal(Array.from({ length: 26 }, (_, i) => i + 5));
    expect(old.every((entry) => isIntactEntry(entry, 2))).to.equal(true);
    expect(fileSystem.operationCounts.get('read') ?? 0, 'old entries come from disk').to.be.greaterThan(readsBefore);
    const limited = unwrap(wal.read(1, 100, 700));
    const limitedBytes = limited.reduce((total, entry) => total + 25 + entry.data.length, 0);
    expect(limited.length).to.be.greaterThan(0);
    expect(limitedBytes).to.be.at.most(700);
    expect(unwrap(wal.read(7, 100, 0)).map((entry) => entry.index), 'at least one entry').to.deep.equal([7]);
  });

  it('serves entries that are staged but not yet flushed, even when the batch outgrows the cache', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { tailCacheEntries: 8, arenaBytes: 1024, segmentBytes: 1024 * 1024 });
    unwrap(wal.append(entriesFor(1, 50, 1)));
    expect(wal.durableLastIndex).to.equal(0);
    const entries = unwrap(wal.read(1, 50, 1024 * 1024));
    expect(entries.map((entry) => entry.index)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(entries.every((entry) => isIntactEntry(entry, 1))).to.equal(true);
    const before = counts(fileSystem).fdatasyncs;
    expect(unwrap(wal.flush())).to.equal(50);
    expect(counts(fileSystem).fdatasyncs - before, 'a batch written in several writes still gets one fdatasync').to.equal(1);
  });

  it('gives back after a restart exactly the durable entries, with their terms', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    appendAndFlush(wal, entriesFor(1, 30, 1));
    appendAndFlush(wal, entriesFor(31, 30, 2));
    unwrap(wal.append(entriesFor(61, 5, 2)));
    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem);
    expect(recovered).to.include({ firstIndex: 1, lastIndex: 60, lastTerm: 2 });
    expect(unwrap(reopened.termAt(30))).to.equal(1);
    expect(unwrap(reopened.termAt(31))).to.equal(2);
    appendAndFlush(reopened, entriesFor(61, 5, 3));
    expect(readAll(reopened).map((entry) => entry.term).slice(58)).to.deep.equal([2, 2, 3, 3, 3, 3, 3]);
  });

  it('refuses an append that does not continue the log (a programmer error)', () => {
    const { wal } = openMemoryWal(new MemoryFileSystem());
    appendAndFlush(wal, entriesFor(1, 3, 2));
    expect(() => wal.append([entryFor(5, 2)])).to.throw(/append of index 5 after 3/);
    expect(() => wal.append([entryFor(4, 1)])).to.throw(/term 1 after term 2/);
  });

  it('appendEncoded stores byte for byte what append stores, across rotations and staging buffers', () => {
    const viaEntries = new MemoryFileSystem();
    const viaEncoded = new MemoryFileSystem();
    const options = { segmentBytes: 2048, arenaBytes: 1500, tailCacheEntries: 8 };
    const { wal: entriesWal } = openMemoryWal(viaEntries, options);
    const { wal: encodedWal } = openMemoryWal(viaEncoded, options);
    for (let batch = 0; batch < 12; batch += 1) {
      const entries = entriesFor(batch * 15 + 1, 15, 1 + batch);
      appendAndFlush(entriesWal, entries);
      const records = encodeRecords(entries);
      unwrap(encodedWal.appendEncoded(Buffer.concat([Buffer.alloc(3), records]), 3, 3 + records.length));
      expect(unwrap(encodedWal.flush())).to.equal(entriesWal.durableLastIndex);
    }
    const names = segmentNames(viaEntries);
    expect(segmentNames(viaEncoded)).to.deep.equal(names);
    for (const name of names) {
      const file = `${memoryWalDir}/${name}`;
      expect(viaEncoded.readFileForTest(file).equals(viaEntries.readFileForTest(file)), name).to.equal(true);
    }
    expect(readAll(encodedWal).every((entry) => isIntactEntry(entry))).to.equal(true);
  });

  it('appendEncoded refuses records that do not continue the log or run past the end (programmer errors)', () => {
    const { wal } = openMemoryWal(new MemoryFileSystem());
    appendAndFlush(wal, entriesFor(1, 3, 2));
    expect(() => wal.appendEncoded(encodeRecords(entriesFor(5, 1, 2)))).to.throw(/encoded index 5 after 3/);
    expect(() => wal.appendEncoded(encodeRecords(entriesFor(4, 1, 1)))).to.throw(/encoded term 1 after term 2/);
    const cut = encodeRecords(entriesFor(4, 2, 2));
    expect(() => wal.appendEncoded(cut, 0, cut.length - 1)).to.throw(/does not fit/);
  });

  it('entries read from the tail cache stay intact while later batches reuse the staging buffers', () => {
    const { wal } = openMemoryWal(new MemoryFileSystem(), { arenaBytes: 2048, tailCacheEntries: 16, segmentBytes: 1 << 20 });
    appendAndFlush(wal, entriesFor(1, 20, 1));
    const kept = unwrap(wal.read(10, 20, 1 << 20));
    const snapshot = kept.map((entry) => Buffer.from(entry.data));
    for (let batch = 0; batch < 50; batch += 1) appendAndFlush(wal, entriesFor(21 + batch * 20, 20, 1));
    kept.forEach((entry, position) => expect(Buffer.from(entry.data).equals(snapshot[position] as Buffer), `entry ${entry.index}`).to.equal(true));
    expect(readAll(wal).every((entry) => isIntactEntry(entry, 1))).to.equal(true);
  });

  it('works the same over the real file system', async () => {
    const dir = await makeTemporaryDirectory('falcon-wal-engine-');
    try {
      const { wal } = WriteAheadLog.open(dir, { segmentBytes: 4096 });
      for (let batch = 0; batch < 10; batch += 1) appendAndFlush(wal, entriesFor(batch * 25 + 1, 25, 1));
      wal.close();
      const { wal: reopened, recovered } = WriteAheadLog.open(dir, { segmentBytes: 4096 });
      expect(recovered.lastIndex).to.equal(250);
      expect(readAll(reopened).every((entry) => isIntactEntry(entry, 1))).to.equal(true);
      reopened.close();
    } finally {
      await removeDirectory(dir);
    }
  });
});
