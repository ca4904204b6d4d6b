/**
 * Recovery never invents or silently drops a durable record: a torn tail in the newest segment is
 * cut at the last good record and reported; a bad record anywhere else refuses to open, naming
 * file, offset and index; with the repair flag the log is cut there and a persisted marker says
 * the node must be caught up before it may vote or lead.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { FalconFailure } from '../../src/errors.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { RecordView, readRecordAt } from '../../src/wal/wal-record.js';
import {
  appendAndFlush, entriesFor, isIntactEntry, memoryWalDir, openMemoryWal, readAll, seededRandom, segmentNames, testSeed, unwrap,
} from './wal-test-helpers.js';

const segmentBytes = 4096;

/** Builds a log of `batches` x 20 entries over several segments; returns its files. */
function buildLogFiles(batches: number): Map<string, Buffer> {
  const fileSystem = new MemoryFileSystem();
  const { wal } = openMemoryWal(fileSystem, { segmentBytes });
  for (let batch = 0; batch < batches; batch += 1) appendAndFlush(wal, entriesFor(batch * 20 + 1, 20, 1 + Math.floor(batch / 3)));
  const files = new Map<string, Buffer>();
  for (const name of fileSystem.listDirectory(memoryWalDir)) files.set(name, fileSystem.readFileForTest(`${memoryWalDir}/${name}`));
  return files;
}

function plant(files: ReadonlyMap<string, Buffer>): MemoryFileSystem {
  const fileSystem = new MemoryFileSystem();
  fileSystem.makeDirectory(memoryWalDir);
  for (const [name, bytes] of files) fileSystem.writeFileForTest(`${memoryWalDir}/${name}`, bytes);
  return fileSystem;
}

/** Offsets where records start in a segment's bytes. */
function recordStarts(bytes: Buffer): number[] {
  const starts: number[] = [];
  const view = new RecordView();
  for (let offset = 0; offset < bytes.length && readRecordAt(bytes, offset, bytes.length, 1 << 20, view) === 'ok'; offset += view.recordBytes) {
    starts.push(offset);
  }
  return starts;
}

function openError(fileSystem: MemoryFileSystem): FalconFailure {
  try {
    openMemoryWal(fileSystem, { segmentBytes });
  } catch (error) {
    if (error instanceof FalconFailure) return error;
    throw error;
  }
  throw new Error('open succeeded on a corrupt log');
}

describe('WAL recovery: torn tails and corruption', () => {
  const files = buildLogFiles(12);
  const names = [...files.keys()].filter((name) => name.endsWith('.seg')).sort();
  const newestName = names.at(-1) as string;
  const olderName = names[1] as string;
  const newest = files.get(newestName) as Buffer;
  const newestFirstIndex = Number(newestName.slice(0, 20));

  it('builds a log of several segments to damage', () => {
    expect(names.length).to.be.greaterThan(3);
  });

  it('cuts a torn newest segment at the last good record, for random cut offsets', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const starts = recordStarts(newest);
    for (let round = 0; round < 60; round += 1) {
      const cut = Math.floor(random() * newest.length);
      const fileSystem = plant(new Map([...files, [newestName, newest.subarray(0, cut)]]));
      const { wal, recovered } = openMemoryWal(fileSystem, { segmentBytes });
      const completeRecords = starts.filter((start, position) => (starts[position + 1] ?? newest.length) <= cut && start < cut).length;
      const context = `seed ${seed}, round ${round}, cut at ${cut} of ${newest.length}`;
      expect(recovered.lastIndex, context).to.equal(newestFirstIndex - 1 + completeRecords);
      if (starts.includes(cut)) expect(recovered.tornTail, context).to.equal(null);
      else expect(recovered.tornTail, context).to.include({ offset: starts[completeRecords] ?? 0, lastGoodIndex: recovered.lastIndex, wholeRecordDropped: false });
      expect(recovered.needsCatchUp, `${context}: a record cut short is a plain torn tail`).to.equal(null);
      expect(readAll(wal).every((entry) => isIntactEntry(entry)), context).to.equal(true);
    }
  });

  it('cuts garbage after the last record of the newest segment and appends after it', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const garbage = Buffer.from(Array.from({ length: 700 }, () => Math.floor(random() * 256)));
    const fileSystem = plant(new Map([...files, [newestName, Buffer.concat([newest, garbage])]]));
    const { wal, recovered } = openMemoryWal(fileSystem, { segmentBytes });
    expect(recovered.lastIndex, `seed ${seed}`).to.equal(240);
    expect(recovered.tornTail, `seed ${seed}`).to.include({ offset: newest.length, bytesDropped: 700 });
    expect(recovered.needsCatchUp, `seed ${seed}`).to.equal(null);
    appendAndFlush(wal, entriesFor(241, 5, 9));
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes }).recovered.lastIndex).to.equal(245);
  });

  it('a whole record at the newest segment\'s tail that fails its checksum is dropped and marks the node for catch-up', () => {
    const bytes = Buffer.from(newest);
    const lastStart = recordStarts(bytes).at(-1) as number;
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x04;
    const fileSystem = plant(new Map([...files, [newestName, bytes]]));
    const { recovered } = openMemoryWal(fileSystem, { segmentBytes });
    expect(recovered.lastIndex).to.equal(239);
    expect(recovered.tornTail).to.include({ offset: lastStart, lastGoodIndex: 239, reason: 'badChecksum', wholeRecordDropped: true });
    expect(recovered.needsCatchUp).to.match(/whole record.*index 240.*may have been synced and acknowledged.*caught up from the leader/);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes }).recovered.needsCatchUp, 'the marker is persisted').to.equal(recovered.needsCatchUp);
  });

  it('a last record whose length field was damaged is still known as whole, not mistaken for a write cut short', () => {
    const lastStart = recordStarts(newest).at(-1) as number;
    for (const damagedLength of [newest.length * 2, 0xffff_fff0]) {
      const bytes = Buffer.from(newest);
      bytes.writeUInt32LE(damagedLength, lastStart);
      const { recovered } = openMemoryWal(plant(new Map([...files, [newestName, bytes]])), { segmentBytes });
      const context = `length damaged to ${damagedLength}`;
      expect(recovered.lastIndex, context).to.equal(239);
      expect(recovered.tornTail, context).to.include({ offset: lastStart, wholeRecordDropped: true });
      expect(recovered.needsCatchUp, context).to.match(/whole record/);
    }
  });

  it('zeros after the last record (a write that never reached the disk) are a plain torn tail', () => {
    const { recovered } = openMemoryWal(plant(new Map([...files, [newestName, Buffer.concat([newest, Buffer.alloc(300)])]])), { segmentBytes });
    expect(recovered).to.include({ lastIndex: 240, needsCatchUp: null });
    expect(recovered.tornTail).to.include({ offset: newest.length, bytesDropped: 300, wholeRecordDropped: false });
  });

  it('persists the catch-up marker before it cuts the damaged record (a crash between them loses neither)', () => {
    const bytes = Buffer.from(newest);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x04;
    const fileSystem = plant(new Map([...files, [newestName, bytes]]));
    fileSystem.injectFault({ operation: 'rename', code: 'EIO', pathIncludes: 'needs-catch-up' });
    expect(openError(fileSystem).error.code).to.equal('IO_ERROR');
    expect(fileSystem.readFileForTest(`${memoryWalDir}/${newestName}`).equals(bytes), 'not cut before the marker is durable').to.equal(true);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes }).recovered.needsCatchUp).to.match(/whole record/);
  });

  it('refuses to open when a byte flips in an older segment, naming file, offset and index', () => {
    const bytes = Buffer.from(files.get(olderName) as Buffer);
    const starts = recordStarts(bytes);
    const victim = starts[3] as number;
    bytes[victim + 30] = (bytes[victim + 30] ?? 0) ^ 0x01;
    const failure = openError(plant(new Map([...files, [olderName, bytes]])));
    const expectedIndex = Number(olderName.slice(0, 20)) + 3;
    expect(failure.error.code).to.equal('CORRUPTION');
    expect(failure.error.message).to.include(`${memoryWalDir}/${olderName}`).and.to.include(`offset ${victim}`).and.to.include(`index ${expectedIndex}`);
    expect(failure.error.detail).to.include({ file: `${memoryWalDir}/${olderName}`, offset: victim, index: expectedIndex });
  });

  it('treats a bad record in the newest segment with good records after it as corruption, not a torn tail', () => {
    const bytes = Buffer.from(newest);
    const starts = recordStarts(bytes);
    bytes[(starts[1] as number) + 26] = (bytes[(starts[1] as number) + 26] ?? 0) ^ 0x80;
    const failure = openError(plant(new Map([...files, [newestName, bytes]])));
    expect(failure.error.code).to.equal('CORRUPTION');
    expect(failure.error.message).to.include(`offset ${starts[1]}`);
  });

  it('refuses to open when a segment in the middle is missing', () => {
    const withoutOne = new Map(files);
    withoutOne.delete(names[2] as string);
    const failure = openError(plant(withoutOne));
    expect(failure.error.code).to.equal('CORRUPTION');
    expect(failure.error.message).to.include('missing segment');
  });

  it('with the repair flag, cuts the log at the corruption and persists the catch-up marker until cleared', () => {
    const bytes = Buffer.from(files.get(olderName) as Buffer);
    const victim = recordStarts(bytes)[3] as number;
    bytes[victim + 5] = (bytes[victim + 5] ?? 0) ^ 0x10;
    const fileSystem = plant(new Map([...files, [olderName, bytes]]));
    const { wal, recovered } = openMemoryWal(fileSystem, { segmentBytes, repairCorruption: true });
    const expectedLast = Number(olderName.slice(0, 20)) + 2;
    expect(recovered.lastIndex).to.equal(expectedLast);
    expect(recovered.corruption).to.include({ file: `${memoryWalDir}/${olderName}`, offset: victim, index: expectedLast + 1 });
    expect(recovered.needsCatchUp).to.match(/caught up from the leader before it may vote or lead/);
    expect(segmentNames(fileSystem).at(-1)).to.equal(olderName);
    expect(readAll(wal).every((entry) => isIntactEntry(entry))).to.equal(true);

    fileSystem.losePower();
    const { wal: again, recovered: reopened } = openMemoryWal(fileSystem, { segmentBytes });
    expect(reopened.needsCatchUp, 'the marker survives a restart').to.equal(recovered.needsCatchUp);
    expect(reopened.lastIndex).to.equal(expectedLast);
    appendAndFlush(again, entriesFor(expectedLast + 1, 10, 9));
    unwrap(again.clearNeedsCatchUp());
    expect(again.needsCatchUp).to.equal(null);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem, { segmentBytes }).recovered.needsCatchUp, 'cleared durably').to.equal(null);
  });

  it('after a crash that tears the unsynced batch at random, keeps every durable entry and no torn one', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const fileSystem = new MemoryFileSystem();
    let { wal } = openMemoryWal(fileSystem, { segmentBytes });
    for (let round = 0; round < 40; round += 1) {
      const context = `seed ${seed}, round ${round}`;
      const batch = 1 + Math.floor(random() * 30);
      const durable = appendAndFlush(wal, entriesFor(wal.lastIndex + 1, batch, 1));
      unwrap(wal.append(entriesFor(wal.lastIndex + 1, 1 + Math.floor(random() * 30), 1)));
      const appended = wal.lastIndex;
      fileSystem.losePower(random);
      ({ wal } = openMemoryWal(fileSystem, { segmentBytes }));
      expect(wal.lastIndex, context).to.be.within(durable, appended);
      expect(readAll(wal).every((entry) => isIntactEntry(entry, 1)), context).to.equal(true);
    }
  });
});
