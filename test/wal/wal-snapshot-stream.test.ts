/**
 * Snapshots are saved, received, verified and read back in bounded chunks, and a crash (process
 * kill: the page cache survives; power loss: it does not) in the middle of receiving a leader's
 * snapshot never loads a partial one: the previous snapshot stays in force and verifies.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { WalService } from '../../src/actors/wal-service.js';
import type { FromWal } from '../../src/protocol/wal.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { snapshotFileName } from '../../src/wal/snapshot-file.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import { appendAndFlush, entriesFor, memoryWalDir, openMemoryWal, saveSnapshotInChunks, snapshotDataOf, unwrap } from './wal-test-helpers.js';

const membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
const chunkBytes = 4096;

/** Reads a part of the snapshot in force chunk by chunk. */
function readInChunks(wal: WriteAheadLog, index: number, part: 'file' | 'data'): Buffer {
  const parts: Uint8Array[] = [];
  for (let offset = 0; ;) {
    const chunk = unwrap(wal.readSnapshotChunk(index, part, offset, chunkBytes));
    expect(chunk.bytes.byteLength).to.be.at.most(chunkBytes);
    parts.push(chunk.bytes);
    offset += chunk.bytes.byteLength;
    if (offset >= chunk.totalBytes) return Buffer.concat(parts);
  }
}

/** A leader's WAL holding a snapshot at 500 (term 7) of 50 KB, and that snapshot's file bytes. */
function leaderSnapshotFile(): { file: Buffer; checksum: number; data: Buffer } {
  const { wal } = openMemoryWal(new MemoryFileSystem());
  const data = snapshotDataOf(50_000, 2);
  appendAndFlush(wal, entriesFor(1, 10, 1));
  saveSnapshotInChunks(wal, 10, 1, snapshotDataOf(100, 9));
  const leaderData = data;
  unwrap(wal.beginSnapshot({ index: 500, term: 7, membership }));
  for (let offset = 0; offset < leaderData.length; offset += chunkBytes) unwrap(wal.appendSnapshotChunk(500, leaderData.subarray(offset, offset + chunkBytes)));
  unwrap(wal.finishSnapshot(500));
  const checksum = unwrap(wal.readSnapshotChunk(500, 'file', 0, 1)).checksum;
  return { file: readInChunks(wal, 500, 'file'), checksum, data };
}

/** A follower with a log up to 120 and its own snapshot at 100. */
function followerWal(fileSystem: MemoryFileSystem): { wal: WriteAheadLog; data: Buffer } {
  const { wal } = openMemoryWal(fileSystem);
  appendAndFlush(wal, entriesFor(1, 120, 2));
  const data = snapshotDataOf(20_000, 1);
  saveSnapshotInChunks(wal, 100, 2, data);
  return { wal, data };
}

function receive(wal: WriteAheadLog, file: Buffer, checksum: number, uptoBytes: number): void {
  let held = unwrap(wal.beginIncomingSnapshot(500, file.length, checksum));
  while (held < uptoBytes) held = unwrap(wal.writeIncomingSnapshot(500, held, file.subarray(held, Math.min(uptoBytes, held + chunkBytes))));
}

describe('WAL streamed snapshots', () => {
  it('saves a snapshot chunk by chunk and reads it back chunk by chunk after a power loss', () => {
    const fileSystem = new MemoryFileSystem();
    const { data } = followerWal(fileSystem);
    fileSystem.losePower();
    const { wal, recovered } = openMemoryWal(fileSystem);
    expect(recovered.snapshot?.index).to.equal(100);
    expect(readInChunks(wal, 100, 'data').equals(data)).to.equal(true);
    expect(unwrap(wal.termAt(120))).to.equal(2);
  });

  for (const crash of ['crashProcess', 'losePower'] as const) {
    it(`a ${crash === 'crashProcess' ? 'process kill' : 'power loss'} halfway through receiving a leader's snapshot keeps the previous one, and never loads the partial one`, () => {
      const leader = leaderSnapshotFile();
      const fileSystem = new MemoryFileSystem();
      const { wal, data } = followerWal(fileSystem);
      receive(wal, leader.file, leader.checksum, Math.floor(leader.file.length / 2));
      fileSystem[crash]();
      const { wal: reopened, recovered } = openMemoryWal(fileSystem);
      expect(recovered.snapshot?.index).to.equal(100);
      expect(recovered.needsCatchUp, 'an interrupted transfer is no corruption').to.equal(null);
      expect(readInChunks(reopened, 100, 'data').equals(data)).to.equal(true);
      expect(fileSystem.listDirectory(memoryWalDir).filter((name) => name.endsWith('.tmp'))).to.deep.equal([]);
    });

    it(`a ${crash === 'crashProcess' ? 'process kill' : 'power loss'} after a received snapshot verified but before it was installed keeps the previous one; once installed it survives`, () => {
      const leader = leaderSnapshotFile();
      const fileSystem = new MemoryFileSystem();
      const { wal } = followerWal(fileSystem);
      receive(wal, leader.file, leader.checksum, leader.file.length);
      expect(unwrap(wal.verifyIncomingSnapshot(500))).to.deep.equal({ index: 500, term: 7, membership });
      fileSystem[crash]();
      const first = openMemoryWal(fileSystem);
      expect(first.recovered.snapshot?.index).to.equal(100);
      receive(first.wal, leader.file, leader.checksum, leader.file.length);
      unwrap(first.wal.verifyIncomingSnapshot(500));
      unwrap(first.wal.installIncomingSnapshot(500, 7));
      expect(first.wal.lastIndex, 'the log the snapshot supersedes is gone').to.equal(500);
      fileSystem[crash]();
      const second = openMemoryWal(fileSystem);
      expect(second.recovered.snapshot?.index).to.equal(500);
      expect(readInChunks(second.wal, 500, 'data').equals(leader.data)).to.equal(true);
    });
  }

  it('resumes receiving where it stopped when the same snapshot is offered again', () => {
    const leader = leaderSnapshotFile();
    const { wal } = followerWal(new MemoryFileSystem());
    receive(wal, leader.file, leader.checksum, 3 * chunkBytes);
    expect(unwrap(wal.beginIncomingSnapshot(500, leader.file.length, leader.checksum))).to.equal(3 * chunkBytes);
    expect(unwrap(wal.writeIncomingSnapshot(500, chunkBytes, leader.file.subarray(chunkBytes, 2 * chunkBytes))), 'a chunk already held changes nothing')
      .to.equal(3 * chunkBytes);
    expect(unwrap(wal.beginIncomingSnapshot(500, leader.file.length, leader.checksum + 1)), 'another file restarts').to.equal(0);
  });

  it('refuses a received snapshot damaged on the way, without failing, and keeps the previous one', () => {
    const leader = leaderSnapshotFile();
    const { wal } = followerWal(new MemoryFileSystem());
    const damaged = Buffer.from(leader.file);
    damaged[damaged.length - 10] = (damaged[damaged.length - 10] ?? 0) ^ 1;
    receive(wal, damaged, leader.checksum, damaged.length);
    const outcome = wal.verifyIncomingSnapshot(500);
    expect(outcome.ok).to.equal(false);
    expect(outcome.ok ? null : outcome.error.code).to.equal('CORRUPTION');
    expect(wal.failed).to.equal(null);
    expect(wal.snapshot?.index).to.equal(100);
  });

  it('refuses a snapshot that grows past snapshotBytesMax while it is written, and the previous one stays', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { snapshotBytesMax: 10_000 });
    appendAndFlush(wal, entriesFor(1, 50, 1));
    saveSnapshotInChunks(wal, 10, 1, snapshotDataOf(100, 3));
    unwrap(wal.beginSnapshot({ index: 40, term: 1, membership }));
    unwrap(wal.appendSnapshotChunk(40, snapshotDataOf(chunkBytes, 4)));
    unwrap(wal.appendSnapshotChunk(40, snapshotDataOf(chunkBytes, 4)));
    const outcome = wal.appendSnapshotChunk(40, snapshotDataOf(chunkBytes, 4));
    expect(outcome.ok ? null : outcome.error.code).to.equal('RESOURCE_EXHAUSTED');
    expect(wal.snapshot?.index).to.equal(10);
    expect(fileSystem.listDirectory(memoryWalDir).filter((name) => name.endsWith('.tmp'))).to.deep.equal([]);
  });

  describe('a snapshot held for a stream', () => {
    const snapshotFiles = (fileSystem: MemoryFileSystem): string[] => fileSystem.listDirectory(memoryWalDir).filter((name) => name.startsWith('snapshot-')).sort();

    /** A leader's WAL with its snapshot at 100 held by one stream, then snapshots at 150 and 180 put in force. */
    function heldThroughTwoNewer(): { wal: WriteAheadLog; fileSystem: MemoryFileSystem; file: Buffer } {
      const fileSystem = new MemoryFileSystem();
      const { wal } = followerWal(fileSystem);
      const file = readInChunks(wal, 100, 'file');
      expect(wal.holdSnapshot(100)).to.equal(true);
      appendAndFlush(wal, entriesFor(121, 80, 2));
      saveSnapshotInChunks(wal, 150, 2, snapshotDataOf(3_000, 5));
      saveSnapshotInChunks(wal, 180, 2, snapshotDataOf(4_000, 6));
      return { wal, fileSystem, file };
    }

    it('stays readable, byte for byte, while newer snapshots are put in force, and its file goes with its last release', () => {
      const { wal, fileSystem, file } = heldThroughTwoNewer();
      expect(wal.snapshot?.index).to.equal(180);
      expect(readInChunks(wal, 100, 'file').equals(file), 'the held file reads as it did').to.equal(true);
      expect(wal.holdSnapshot(150), 'a snapshot neither in force nor held cannot be held').to.equal(false);
      expect(wal.readSnapshotChunk(150, 'file', 0, chunkBytes)).to.deep.include({ ok: false });
      expect(snapshotFiles(fileSystem)).to.deep.equal([snapshotFileName(100), snapshotFileName(180)]);
      expect(wal.holdSnapshot(100), 'a second stream of the same file').to.equal(true);
      unwrap(wal.releaseSnapshot(100));
      expect(readInChunks(wal, 100, 'file').equals(file), 'one stream still reads it').to.equal(true);
      unwrap(wal.releaseSnapshot(100));
      expect(snapshotFiles(fileSystem)).to.deep.equal([snapshotFileName(180)]);
      const outcome = wal.readSnapshotChunk(100, 'file', 0, chunkBytes);
      expect(outcome.ok ? null : outcome.error.code).to.equal('NOT_FOUND');
      unwrap(wal.releaseSnapshot(100));
      expect(wal.heldSnapshotIndexes).to.deep.equal([]);
    });

    it('a snapshot held while in force stays after its release (it is still the one in force)', () => {
      const fileSystem = new MemoryFileSystem();
      const { wal, data } = followerWal(fileSystem);
      expect(wal.holdSnapshot(100)).to.equal(true);
      unwrap(wal.releaseSnapshot(100));
      expect(snapshotFiles(fileSystem)).to.deep.equal([snapshotFileName(100)]);
      expect(readInChunks(wal, 100, 'data').equals(data)).to.equal(true);
    });

    for (const crash of ['crashProcess', 'losePower'] as const) {
      it(`after a ${crash === 'crashProcess' ? 'process kill' : 'power loss'} the newest snapshot is in force, and the file held before is gone once the WAL is open`, () => {
        const { fileSystem } = heldThroughTwoNewer();
        fileSystem[crash]();
        const { wal, recovered } = openMemoryWal(fileSystem);
        expect(recovered.snapshot?.index).to.equal(180);
        expect(wal.heldSnapshotIndexes, 'holds do not outlive the process').to.deep.equal([]);
        expect(snapshotFiles(fileSystem), 'recovery deleted what the crash left').to.deep.equal([snapshotFileName(180)]);
        appendAndFlush(wal, entriesFor(201, 10, 2));
        saveSnapshotInChunks(wal, 205, 2, snapshotDataOf(100, 7));
        expect(snapshotFiles(fileSystem)).to.deep.equal([snapshotFileName(205)]);
      });
    }

    it('a restarted Replicator (describe) finds no holds: the files they kept are deleted', () => {
      const { wal, fileSystem } = heldThroughTwoNewer();
      const replies: FromWal[] = [];
      const service = new WalService(wal, (reply) => replies.push(reply), (error) => expect.fail(error.message));
      service.handle({ type: 'describe' });
      service.afterDrain();
      expect(replies.map((reply) => reply.type)).to.deep.equal(['walRecovered']);
      expect(wal.heldSnapshotIndexes).to.deep.equal([]);
      expect(snapshotFiles(fileSystem)).to.deep.equal([snapshotFileName(180)]);
    });
  });
});
