/**
 * Attacks on the WAL's snapshot holds (`holdSnapshot`/`releaseSnapshot`, wal.ts): a held file
 * stays readable byte for byte until its last release; nothing in force is deleted; a file no
 * longer needed is deleted, across a process kill, a power loss and a restarted Replicator
 * (`describe`); recovery never puts an older held file in force.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { WalService } from '../../src/actors/wal-service.js';
import type { FromWal } from '../../src/protocol/wal.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { parseSnapshotFileName, snapshotFileName } from '../../src/wal/snapshot-file.js';
import { WriteAheadLog } from '../../src/wal/wal.js';
import type { WalFileSystem } from '../../src/wal/file-system.js';
import { SimFileSystem, SimulatedKill } from '../sim/sim-file-system.js';
import { appendAndFlush, entriesFor, memoryWalDir, openMemoryWal, saveSnapshotInChunks, seededRandom, snapshotDataOf, unwrap } from './wal-test-helpers.js';

const chunkBytes = 4096;

function readFile(wal: WriteAheadLog, index: number): Buffer {
  const parts: Uint8Array[] = [];
  for (let offset = 0; ;) {
    const chunk = unwrap(wal.readSnapshotChunk(index, 'file', offset, chunkBytes));
    parts.push(chunk.bytes);
    offset += chunk.bytes.byteLength;
    if (offset >= chunk.totalBytes) return Buffer.concat(parts);
  }
}

function snapshotIndexesOnDisk(fileSystem: WalFileSystem): number[] {
  return fileSystem.listDirectory(memoryWalDir).map(parseSnapshotFileName).filter((index): index is number => index !== null).sort((a, b) => a - b);
}

function open(fileSystem: WalFileSystem): WriteAheadLog {
  return WriteAheadLog.open(memoryWalDir, { fileSystem, segmentBytes: 4096 }).wal;
}

/** What a restarted Replicator does first: `describe`, through the service the WAL writer runs. */
function describeThroughService(wal: WriteAheadLog): FromWal[] {
  const replies: FromWal[] = [];
  const service = new WalService(wal, (reply) => replies.push(reply), (error) => expect.fail(error.message));
  service.handle({ type: 'describe' });
  service.afterDrain();
  return replies;
}

/** Log 1..200, snapshot 100 held by a stream, then 150 in force (100 kept for the stream). */
function heldBelowTheOneInForce(fileSystem: WalFileSystem): WriteAheadLog {
  const wal = open(fileSystem);
  appendAndFlush(wal, entriesFor(1, 200, 2));
  saveSnapshotInChunks(wal, 100, 2, snapshotDataOf(20_000, 1));
  expect(wal.holdSnapshot(100)).to.equal(true);
  saveSnapshotInChunks(wal, 150, 2, snapshotDataOf(25_000, 2));
  expect(snapshotIndexesOnDisk(fileSystem)).to.deep.equal([100, 150]);
  return wal;
}

describe('attack: snapshot holds in the WAL', () => {
  for (const crash of ['crashProcess', 'losePower'] as const) {
    it(`a file held when the ${crash === 'crashProcess' ? 'process was killed' : 'power failed'} is deleted once the WAL is open again and described, not only at some later snapshot`, () => {
      const fileSystem = new MemoryFileSystem();
      heldBelowTheOneInForce(fileSystem);
      fileSystem[crash]();
      const wal = openMemoryWal(fileSystem).wal;
      expect(wal.snapshot?.index).to.equal(150);
      expect(describeThroughService(wal).map((reply) => reply.type)).to.deep.equal(['walRecovered']);
      // No stream holds it (holds do not outlive the process) and it is not in force: it is no
      // longer needed. Left there, it stays until the next snapshot, which an idle cluster never takes.
      expect(snapshotIndexesOnDisk(fileSystem), 'only the snapshot in force is left').to.deep.equal([150]);
    });
  }

  it('a kill at any system call of putting a newer snapshot in force, then a power loss, never recovers the held one', () => {
    for (let killAt = 1; ; killAt += 1) {
      const disk = new SimFileSystem();
      const wal = heldBelowTheOneInForce(disk);
      disk.armKill(killAt);
      let killed = false;
      try {
        saveSnapshotInChunks(wal, 180, 2, snapshotDataOf(30_000, 3));
        unwrap(wal.releaseSnapshot(100));
      } catch (error) {
        if (!(error instanceof SimulatedKill)) throw error;
        killed = true;
      }
      disk.disarm();
      disk.losePower(seededRandom(killAt));
      const reopened = open(disk);
      const inForce = reopened.snapshot?.index;
      expect(inForce === 150 || inForce === 180, `kill at call ${killAt}: ${String(inForce)} in force`).to.equal(true);
      expect(reopened.firstIndex, `kill at call ${killAt}: the log meets the snapshot`).to.be.at.most((inForce ?? 0) + 1);
      if (!killed) break;
    }
  });

  it('a held file reads byte for byte as at its hold, through newer snapshots, compactions and other holds coming and going', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('hold', 'release', 'snapshot', 'compact'), { minLength: 1, maxLength: 40 }), (operations) => {
      const fileSystem = new MemoryFileSystem();
      const wal = openMemoryWal(fileSystem).wal;
      appendAndFlush(wal, entriesFor(1, 10, 2));
      saveSnapshotInChunks(wal, 10, 2, snapshotDataOf(5_000, 10));
      let next = 11;
      /** Model: index → [holders, the file's bytes when first held]. */
      const held = new Map<number, { holders: number; file: Buffer }>();
      for (const operation of operations) {
        const inForce = wal.snapshot?.index ?? 0;
        if (operation === 'hold') {
          expect(wal.holdSnapshot(inForce)).to.equal(true);
          const model = held.get(inForce) ?? { holders: 0, file: readFile(wal, inForce) };
          model.holders += 1;
          held.set(inForce, model);
        } else if (operation === 'release') {
          const index = [...held.keys()][0];
          if (index === undefined) continue;
          unwrap(wal.releaseSnapshot(index));
          const model = held.get(index);
          if (model !== undefined && --model.holders === 0) held.delete(index);
        } else if (operation === 'snapshot') {
          appendAndFlush(wal, entriesFor(next, 7, 2));
          next += 7;
          saveSnapshotInChunks(wal, next - 3, 2, snapshotDataOf(3_000 + next * 11, next));
        } else {
          const lowestHeld = Math.min(inForce, ...held.keys());
          unwrap(wal.compact(lowestHeld));
        }
        const now = wal.snapshot?.index ?? 0;
        for (const [index, model] of held) expect(readFile(wal, index).equals(model.file), `held ${index} reads as at its hold`).to.equal(true);
        expect(snapshotIndexesOnDisk(fileSystem)).to.deep.equal([...new Set([...held.keys(), now])].sort((a, b) => a - b));
      }
      // Every hold released: only the one in force is left.
      for (const [index, model] of held) for (let left = model.holders; left > 0; left -= 1) unwrap(wal.releaseSnapshot(index));
      expect(snapshotIndexesOnDisk(fileSystem)).to.deep.equal([wal.snapshot?.index ?? 0]);
      expect(wal.heldSnapshotIndexes).to.deep.equal([]);
    }), { numRuns: 150, seed: 7 });
  });

  it('releases beyond the holds, or of a snapshot never held, delete nothing a stream still reads', () => {
    const fileSystem = new MemoryFileSystem();
    const wal = heldBelowTheOneInForce(fileSystem);
    const file = readFile(wal, 100);
    expect(wal.holdSnapshot(150)).to.equal(true);
    saveSnapshotInChunks(wal, 180, 2, snapshotDataOf(9_000, 4));
    unwrap(wal.releaseSnapshot(120));
    unwrap(wal.releaseSnapshot(180));
    unwrap(wal.releaseSnapshot(180));
    expect(snapshotIndexesOnDisk(fileSystem)).to.deep.equal([100, 150, 180]);
    unwrap(wal.releaseSnapshot(150));
    unwrap(wal.releaseSnapshot(150));
    expect(readFile(wal, 100).equals(file)).to.equal(true);
    expect(snapshotIndexesOnDisk(fileSystem)).to.deep.equal([100, 180]);
    expect(wal.holdSnapshot(150), 'a file gone is not held again').to.equal(false);
    expect(snapshotFileName(150)).to.not.be.oneOf(fileSystem.listDirectory(memoryWalDir));
  });
});
