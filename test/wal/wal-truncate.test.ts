/**
 * Truncation (a Raft conflict): every entry from an index on is dropped, across segment
 * boundaries, durably before the call returns, and new entries take their place.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { appendAndFlush, entriesFor, isIntactEntry, openMemoryWal, readAll, segmentNames, unwrap } from './wal-test-helpers.js';

function buildLog(fileSystem: MemoryFileSystem): ReturnType<typeof openMemoryWal>['wal'] {
  const { wal } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
  for (let batch = 0; batch < 10; batch += 1) appendAndFlush(wal, entriesFor(batch * 20 + 1, 20, 1 + batch));
  return wal;
}

describe('WAL truncation', () => {
  it('drops every entry from an index on across segment boundaries, durably, and accepts new ones', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    const segmentsBefore = segmentNames(fileSystem).length;
    expect(unwrap(wal.truncateFrom(57))).to.equal(56);
    expect(wal.lastIndex).to.equal(56);
    expect(wal.durableLastIndex).to.equal(56);
    expect(wal.lastTerm).to.equal(3);
    expect(segmentNames(fileSystem).length).to.be.lessThan(segmentsBefore);
    expect(unwrap(wal.read(50, 200, 1 << 20)).map((entry) => entry.index).at(-1)).to.equal(56);

    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(recovered.lastIndex, 'truncation is durable when it returns').to.equal(56);
    expect(recovered.lastTerm).to.equal(3);
    appendAndFlush(reopened, entriesFor(57, 30, 20));
    fileSystem.losePower();
    const { wal: final } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    const entries = readAll(final);
    expect(entries.map((entry) => entry.index)).to.deep.equal(Array.from({ length: 86 }, (_, i) => i + 1));
    expect(entries.slice(56).every((entry) => isIntactEntry(entry, 20)), 'no old entry came back').to.equal(true);
  });

  it('truncating at the first index of a segment deletes that segment entirely', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    const names = segmentNames(fileSystem);
    const thirdFirstIndex = Number((names[2] as string).slice(0, 20));
    unwrap(wal.truncateFrom(thirdFirstIndex));
    expect(segmentNames(fileSystem)).to.deep.equal(names.slice(0, 2));
    appendAndFlush(wal, entriesFor(thirdFirstIndex, 5, 30));
    fileSystem.losePower();
    const { recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(recovered).to.include({ lastIndex: thirdFirstIndex + 4, lastTerm: 30 });
  });

  it('truncates entries that were staged but not yet flushed', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.append(entriesFor(201, 20, 11)));
    unwrap(wal.truncateFrom(205));
    expect(wal.lastIndex).to.equal(204);
    expect(wal.lastTerm).to.equal(11);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes: 2048 }).recovered.lastIndex).to.equal(204);
  });

  it('truncating after the last index changes nothing', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    const before = fileSystem.operationCounts.get('truncate') ?? 0;
    expect(unwrap(wal.truncateFrom(201))).to.equal(200);
    expect(fileSystem.operationCounts.get('truncate') ?? 0).to.equal(before);
  });

  it('truncating the whole log leaves it empty and ready to start again at index 1', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    expect(unwrap(wal.truncateFrom(1))).to.equal(0);
    expect(segmentNames(fileSystem)).to.deep.equal([]);
    appendAndFlush(wal, entriesFor(1, 3, 50));
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes: 2048 }).recovered).to.include({ firstIndex: 1, lastIndex: 3, lastTerm: 50 });
  });

  it('refuses to truncate below the snapshot (committed entries are never truncated)', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.saveSnapshot({ index: 100, term: 5, membership: { voters: ['n1'], learners: [] }, data: new Uint8Array(4) }));
    expect(() => wal.truncateFrom(100)).to.throw(/truncateFrom\(100\) outside 101\.\.201/);
  });
});
