/**
 * Hard state, snapshots and compaction survive restarts and crashes: the hard state and a
 * snapshot are replaced atomically, the previous snapshot stays loadable until the new one is
 * durable, compaction deletes only segments a snapshot covers, and a snapshot that supersedes the
 * log replaces it the way Raft installs one. A snapshot file that does not verify is corruption
 * (refused, or with repair a fall-back under the catch-up marker), never a reason to start empty;
 * a snapshot too large to load again is refused when saving.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { FalconFailure } from '../../src/errors.js';
import type { Snapshot } from '../../src/log/snapshot.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { snapshotFileName } from '../../src/wal/snapshot-file.js';
import { WriteAheadLog } from '../../src/wal/wal.js';
import {
  appendAndFlush, entriesFor, isIntactEntry, makeTemporaryDirectory, memoryWalDir, openMemoryWal, readAll, removeDirectory,
  segmentNames, unwrap,
} from './wal-test-helpers.js';

const membership = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };

function damageFile(fileSystem: MemoryFileSystem, name: string, offset: number): void {
  const bytes = fileSystem.readFileForTest(`${memoryWalDir}/${name}`);
  bytes[offset] = (bytes[offset] ?? 0) ^ 1;
  fileSystem.writeFileForTest(`${memoryWalDir}/${name}`, bytes);
}

function openFailure(fileSystem: MemoryFileSystem, options: { repairCorruption?: boolean }): FalconFailure {
  try {
    openMemoryWal(fileSystem, { segmentBytes: 2048, ...options });
  } catch (error) {
    if (error instanceof FalconFailure) return error;
    throw error;
  }
  throw new Error('open succeeded past a snapshot that does not verify');
}

function snapshotAt(index: number, term: number, fill: number): Snapshot {
  return { index, term, membership, data: new Uint8Array(3000).fill(fill) };
}

/** 200 entries over several 2 KiB segments; entry i has term ceil(i / 20). */
function buildLog(fileSystem: MemoryFileSystem): WriteAheadLog {
  const { wal } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
  for (let batch = 0; batch < 10; batch += 1) appendAndFlush(wal, entriesFor(batch * 20 + 1, 20, 1 + batch));
  return wal;
}

describe('WAL hard state', () => {
  it('persists term, vote and commit across a crash', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    unwrap(wal.saveHardState({ term: 3, vote: 'n2', commit: 10 }));
    unwrap(wal.saveHardState({ term: 4, vote: null, commit: 12 }));
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.deep.equal({ term: 4, vote: null, commit: 12, cluster: null });
  });

  it('has no hard state when the first one never got renamed into place', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    fileSystem.injectFault({ operation: 'rename', code: 'EIO' });
    expect(wal.saveHardState({ term: 4, vote: 'n3', commit: 0 }).ok).to.equal(false);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.equal(null);
  });

  it('refuses a damaged hard-state file, and with repair forgets it and marks the node for catch-up', () => {
    const fileSystem = new MemoryFileSystem();
    unwrap(openMemoryWal(fileSystem).wal.saveHardState({ term: 3, vote: 'n2', commit: 0 }));
    const bytes = fileSystem.readFileForTest(`${memoryWalDir}/hard-state`);
    bytes[12] = (bytes[12] ?? 0) ^ 0xff;
    fileSystem.writeFileForTest(`${memoryWalDir}/hard-state`, bytes);
    expect(() => openMemoryWal(fileSystem)).to.throw(FalconFailure, /hard-state/);
    const { recovered } = openMemoryWal(fileSystem, { repairCorruption: true });
    expect(recovered.hardState).to.equal(null);
    expect(recovered.needsCatchUp).to.match(/hard state unreadable/);
  });
});

describe('WAL snapshots and compaction', () => {
  it('snapshot, compaction and restart: covered segments go, the rest of the log and the snapshot come back', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    const segmentsBefore = segmentNames(fileSystem);
    unwrap(wal.saveSnapshot(snapshotAt(150, 8, 7)));
    const deleted = unwrap(wal.compact(150));
    expect(deleted).to.be.greaterThan(0);
    const segmentsAfter = segmentNames(fileSystem);
    expect(segmentsAfter).to.deep.equal(segmentsBefore.slice(deleted));
    expect(wal.firstIndex).to.be.at.most(151).and.to.equal(Number((segmentsAfter[0] as string).slice(0, 20)));
    const compacted = wal.read(1, 10, 1 << 20);
    expect(compacted.ok ? 'ok' : compacted.error.code).to.equal('NOT_FOUND');

    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(recovered.snapshot).to.deep.equal({ index: 150, term: 8, membership });
    expect(recovered).to.include({ lastIndex: 200, lastTerm: 10, logDiscardedForSnapshot: false });
    const loaded = unwrap(reopened.loadLatestSnapshot());
    expect(loaded?.index).to.equal(150);
    expect(Buffer.from(loaded?.data ?? []).equals(Buffer.alloc(3000, 7))).to.equal(true);
    expect(readAll(reopened).every((entry) => isIntactEntry(entry))).to.equal(true);
    appendAndFlush(reopened, entriesFor(201, 5, 11));
    expect(unwrap(reopened.termAt(150))).to.equal(8);
  });

  it('a snapshot interrupted by a crash (temp file left behind) leaves the previous snapshot loadable', async () => {
    const dir = await makeTemporaryDirectory('falcon-wal-snapshot-');
    try {
      const { wal } = WriteAheadLog.open(dir, { segmentBytes: 2048 });
      for (let batch = 0; batch < 10; batch += 1) appendAndFlush(wal, entriesFor(batch * 20 + 1, 20, 1 + batch));
      unwrap(wal.saveSnapshot(snapshotAt(100, 5, 1)));
      wal.close();
      // What a crash in the middle of writing the next snapshot leaves: a partial temp file.
      fs.writeFileSync(path.join(dir, `${snapshotFileName(180)}.tmp`), Buffer.alloc(1000, 9));
      const { wal: reopened, recovered } = WriteAheadLog.open(dir, { segmentBytes: 2048 });
      expect(recovered.snapshot?.index).to.equal(100);
      expect(unwrap(reopened.loadLatestSnapshot())?.data[0]).to.equal(1);
      expect(fs.readdirSync(dir).filter((name) => name.endsWith('.tmp')), 'temp files are cleaned up').to.deep.equal([]);
      expect(recovered.needsCatchUp, 'an interrupted snapshot is no corruption').to.equal(null);
      reopened.close();
    } finally {
      await removeDirectory(dir);
    }
  });

  it('keeps the previous snapshot when the new one fails on a full disk, and goes on', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.saveSnapshot(snapshotAt(100, 5, 1)));
    fileSystem.capacityBytes = fileSystem.usedBytes() + 1000;
    const outcome = wal.saveSnapshot(snapshotAt(180, 9, 2));
    expect(outcome.ok ? 'ok' : outcome.error.code).to.equal('DISK_FULL');
    expect(wal.failed).to.equal(null);
    expect(wal.snapshot?.index).to.equal(100);
    fileSystem.capacityBytes = Number.MAX_SAFE_INTEGER;
    unwrap(wal.saveSnapshot(snapshotAt(180, 9, 2)));
    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(recovered.snapshot?.index).to.equal(180);
    expect(fileSystem.listDirectory(memoryWalDir).filter((name) => name.endsWith('.snap'))).to.deep.equal([snapshotFileName(180)]);
    expect(unwrap(reopened.loadLatestSnapshot())?.data[0]).to.equal(2);
  });

  /** A log with snapshots at 100 and 180 (both files kept), the newest with one bit flipped. */
  function withDamagedNewestSnapshot(): MemoryFileSystem {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.saveSnapshot(snapshotAt(100, 5, 1)));
    const previous = fileSystem.readFileForTest(`${memoryWalDir}/${snapshotFileName(100)}`);
    unwrap(wal.saveSnapshot(snapshotAt(180, 9, 2)));
    wal.close();
    fileSystem.writeFileForTest(`${memoryWalDir}/${snapshotFileName(100)}`, previous);
    damageFile(fileSystem, snapshotFileName(180), 2000);
    return fileSystem;
  }

  it('refuses to open when the newest snapshot does not verify, naming the file', () => {
    const failure = openFailure(withDamagedNewestSnapshot(), {});
    const file = `${memoryWalDir}/${snapshotFileName(180)}`;
    expect(failure.error.code).to.equal('CORRUPTION');
    expect(failure.error.message).to.include(file).and.to.match(/checksum mismatch/).and.to.match(/repair flag/);
    expect(failure.error.detail).to.include({ file });
  });

  it('with the repair flag, falls back to the previous snapshot, deletes the bad one and persists the catch-up marker', () => {
    const fileSystem = withDamagedNewestSnapshot();
    const { recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048, repairCorruption: true });
    expect(recovered.snapshot?.index).to.equal(100);
    expect(recovered.rejectedSnapshots).to.have.length(1);
    expect(recovered.rejectedSnapshots[0]?.reason).to.match(/checksum mismatch/);
    expect(recovered.needsCatchUp).to.match(/snapshot-0+180\.snap did not verify.*fell back to the snapshot at index 100.*caught up from the leader/);
    fileSystem.losePower();
    const { recovered: reopened } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(reopened.snapshot?.index, 'opens without the flag afterwards').to.equal(100);
    expect(reopened.needsCatchUp, 'the marker survives until cleared').to.equal(recovered.needsCatchUp);
  });

  it('a snapshot that had replaced the log and does not verify refuses to open instead of starting empty', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.saveSnapshot(snapshotAt(500, 40, 3)));
    wal.close();
    damageFile(fileSystem, snapshotFileName(500), 100);
    expect(openFailure(fileSystem, {}).error.message).to.include(snapshotFileName(500));
    const { recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048, repairCorruption: true });
    expect(recovered).to.include({ lastIndex: 0, snapshot: null });
    expect(recovered.needsCatchUp, 'an empty start only with the marker').to.match(/fell back to no snapshot/);
  });

  it('refuses to save a snapshot above snapshotBytesMax with an error value, and the previous one stays', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes: 2048, snapshotBytesMax: 4096 });
    appendAndFlush(wal, entriesFor(1, 200, 1));
    unwrap(wal.saveSnapshot(snapshotAt(100, 1, 1)));
    const outcome = wal.saveSnapshot({ index: 180, term: 1, membership, data: new Uint8Array(5000) });
    expect(outcome.ok ? 'saved' : outcome.error.code).to.equal('RESOURCE_EXHAUSTED');
    expect(outcome.ok ? '' : outcome.error.message).to.match(/snapshotBytesMax of 4096/);
    expect(wal.failed, 'not fatal').to.equal(null);
    expect(wal.snapshot?.index).to.equal(100);
    expect(wal.lastIndex).to.equal(200);
    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048, snapshotBytesMax: 4096 });
    expect(recovered.snapshot?.index).to.equal(100);
    expect(fileSystem.listDirectory(memoryWalDir).filter((name) => name.includes('.snap'))).to.deep.equal([snapshotFileName(100)]);
    expect(unwrap(reopened.loadLatestSnapshot())?.data[0]).to.equal(1);
  });

  it('a snapshot beyond the log (installed from a leader) replaces the log, durably', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.saveSnapshot(snapshotAt(500, 40, 3)));
    expect(wal).to.include({ firstIndex: 501, lastIndex: 500, lastTerm: 40, durableLastIndex: 500 });
    expect(segmentNames(fileSystem)).to.deep.equal([]);
    appendAndFlush(wal, entriesFor(501, 10, 41));
    fileSystem.losePower();
    const { wal: reopened, recovered } = openMemoryWal(fileSystem, { segmentBytes: 2048 });
    expect(recovered).to.include({ firstIndex: 501, lastIndex: 510, lastTerm: 41 });
    expect(readAll(reopened).every((entry) => isIntactEntry(entry, 41))).to.equal(true);
  });

  it('a snapshot whose term differs from the log entry at its index discards the log, also when found at restart', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = buildLog(fileSystem);
    unwrap(wal.saveSnapshot(snapshotAt(120, 99, 4)));
    expect(wal).to.include({ firstIndex: 121, lastIndex: 120, lastTerm: 99 });
    expect(segmentNames(fileSystem)).to.deep.equal([]);
    // What a crash right after the snapshot's rename, before the log was discarded, leaves behind.
    const snapshotBytes = fileSystem.readFileForTest(`${memoryWalDir}/${snapshotFileName(120)}`);
    const replay = new MemoryFileSystem();
    buildLog(replay).close();
    replay.writeFileForTest(`${memoryWalDir}/${snapshotFileName(120)}`, snapshotBytes);
    const { recovered } = openMemoryWal(replay, { segmentBytes: 2048 });
    expect(recovered).to.include({ logDiscardedForSnapshot: true, firstIndex: 121, lastIndex: 120, lastTerm: 99 });
    expect(segmentNames(replay)).to.deep.equal([]);
  });
});
