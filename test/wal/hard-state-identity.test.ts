/**
 * The hard state keeps the cluster a data directory belongs to: it round-trips through the file,
 * a later save that does not name the cluster keeps it, a file written by an older version
 * (version 1, no cluster) still loads as a joined node, and the needs-catch-up marker can be set
 * at run time, durably before the call returns.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { checksumOf } from '../../src/wal/checksum.js';
import { decodeHardStateFile, encodeHardStateSlot, hardStateFileName, hardStateSlotBytes } from '../../src/wal/hard-state-codec.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { memoryWalDir, openMemoryWal, singleRecordHardStateFile, unwrap } from './wal-test-helpers.js';

describe('hard state cluster identity', () => {
  it('round-trips term, vote, commit and the cluster name', () => {
    for (const state of [
      { term: 0, vote: null, commit: 0, cluster: 'falcon-prod' },
      { term: 2 ** 40 + 3, vote: 'n2', commit: 2 ** 33, cluster: 'é-cluster' },
      { term: 5, vote: 'n1', commit: 4, cluster: null },
    ]) {
      const file = Buffer.concat([encodeHardStateSlot(state, 9), Buffer.alloc(hardStateSlotBytes)]);
      expect(decodeHardStateFile(file)).to.deep.equal({ state, sequence: 9, slot: 0 });
    }
  });

  it('loads a version-1 file (no identity) as a joined node whose cluster is unknown', () => {
    expect(decodeHardStateFile(singleRecordHardStateFile(1, 7, 'n3', 12))).to.deep.equal({ state: { term: 7, vote: 'n3', commit: 12, cluster: null }, sequence: 0, slot: null });
    const fileSystem = new MemoryFileSystem();
    openMemoryWal(fileSystem).wal.close();
    fileSystem.writeFileForTest(`${memoryWalDir}/${hardStateFileName}`, singleRecordHardStateFile(1, 7, 'n3', 12));
    const { recovered } = openMemoryWal(fileSystem);
    expect(recovered.hardState, 'a directory with an old hard state is not fresh').to.deep.equal({ term: 7, vote: 'n3', commit: 12, cluster: null });
  });

  it('refuses an old single-record file whose cluster-name length does not match its size', () => {
    const bytes = singleRecordHardStateFile(1, 1, null, 0);
    bytes[8] = 2;
    bytes.writeUInt32LE(checksumOf(bytes.subarray(8), 0), 4);
    expect(decodeHardStateFile(bytes)).to.match(/does not match/);
  });

  it('keeps the cluster name across saves that do not name it, and across a restart and a power loss', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    unwrap(wal.saveHardState({ term: 0, vote: null, commit: 0, cluster: 'falcon-test' }));
    unwrap(wal.saveHardState({ term: 3, vote: 'n2', commit: 0 }));
    expect(wal.hardState).to.deep.equal({ term: 3, vote: 'n2', commit: 0, cluster: 'falcon-test' });
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.deep.equal({ term: 3, vote: 'n2', commit: 0, cluster: 'falcon-test' });
  });

  it('refuses to rename the cluster of a directory (a programmer error)', () => {
    const { wal } = openMemoryWal(new MemoryFileSystem());
    unwrap(wal.saveHardState({ term: 1, vote: null, commit: 0, cluster: 'alpha' }));
    expect(() => wal.saveHardState({ term: 2, vote: null, commit: 0, cluster: 'beta' })).to.throw(/cluster changing from 'alpha' to 'beta'/);
  });

  it('sets the needs-catch-up marker at run time, durable before it returns, until it is cleared', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    expect(wal.needsCatchUp).to.equal(null);
    const reason = 'the data directory was empty while peer n2 holds state of this cluster';
    expect(unwrap(wal.markNeedsCatchUp(reason))).to.equal(reason);
    expect(wal.needsCatchUp).to.equal(reason);
    fileSystem.losePower();
    const reopened = openMemoryWal(fileSystem);
    expect(reopened.recovered.needsCatchUp, 'the marker survives a power loss right after the call').to.equal(reason);
    unwrap(reopened.wal.clearNeedsCatchUp());
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.needsCatchUp).to.equal(null);
  });
});
