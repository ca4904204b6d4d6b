/**
 * The hard state is what an election waits on (a candidate's vote for itself, each voter's vote):
 * a save costs one in-place slot write and one fdatasync, never a file replacement, and it stays
 * as durable as before: every save survives a process kill followed by a power loss, a save cut
 * off before its sync leaves the previous record, and a damaged slot refuses to start.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { FalconFailure } from '../../src/errors.js';
import { hardStateFileBytes, hardStateFileName, hardStateSlotBytes } from '../../src/wal/hard-state-codec.js';
import { MemoryFileSystem } from '../../src/wal/memory-file-system.js';
import { memoryWalDir, openMemoryWal, singleRecordHardStateFile, unwrap } from './wal-test-helpers.js';

const filePath = `${memoryWalDir}/${hardStateFileName}`;

function operationsDuring(fileSystem: MemoryFileSystem, run: () => void): Record<string, number> {
  const before = new Map(fileSystem.operationCounts);
  run();
  const counts: Record<string, number> = {};
  for (const [operation, count] of fileSystem.operationCounts) {
    const delta = count - (before.get(operation) ?? 0);
    if (delta > 0) counts[operation] = delta;
  }
  return counts;
}

describe('hard state saved in place', () => {
  it('costs one write and one fdatasync per save once the file exists: no rename, no directory sync', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    unwrap(wal.saveHardState({ term: 1, vote: 'n1', commit: 0, cluster: 'c' }));
    for (let term = 2; term <= 5; term++) {
      const counts = operationsDuring(fileSystem, () => unwrap(wal.saveHardState({ term, vote: 'n2', commit: 0 })));
      expect(counts, `save of term ${term}`).to.deep.equal({ write: 1, fdatasync: 1 });
    }
    expect(fileSystem.readFileForTest(filePath).length).to.equal(hardStateFileBytes);
  });

  it('keeps every save across a process kill and then a power loss, whichever slot it went to', () => {
    const fileSystem = new MemoryFileSystem();
    let opened = openMemoryWal(fileSystem);
    for (let term = 1; term <= 7; term++) {
      unwrap(opened.wal.saveHardState({ term, vote: term % 2 === 0 ? 'n2' : null, commit: term * 10, cluster: 'c' }));
      fileSystem.crashProcess();
      fileSystem.losePower();
      opened = openMemoryWal(fileSystem);
      expect(opened.recovered.hardState, `after the save of term ${term}`).to.deep.equal({ term, vote: term % 2 === 0 ? 'n2' : null, commit: term * 10, cluster: 'c' });
    }
  });

  it('leaves the previous record in force when a save is cut off before its sync', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    unwrap(wal.saveHardState({ term: 4, vote: 'n1', commit: 3, cluster: 'c' }));
    unwrap(wal.saveHardState({ term: 5, vote: 'n3', commit: 3 }));
    fileSystem.injectFault({ operation: 'fdatasync', code: 'EIO', pathIncludes: hardStateFileName });
    expect(wal.saveHardState({ term: 6, vote: 'n2', commit: 3 }).ok).to.equal(false);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.deep.equal({ term: 5, vote: 'n3', commit: 3, cluster: 'c' });
  });

  it('refuses to start on damage in either slot, naming the file', () => {
    for (const slot of [0, 1]) {
      const fileSystem = new MemoryFileSystem();
      const { wal } = openMemoryWal(fileSystem);
      unwrap(wal.saveHardState({ term: 1, vote: null, commit: 0, cluster: 'c' }));
      unwrap(wal.saveHardState({ term: 2, vote: 'n1', commit: 0 }));
      wal.close();
      const bytes = fileSystem.readFileForTest(filePath);
      const at = slot * hardStateSlotBytes + 20;
      bytes[at] = (bytes[at] ?? 0) ^ 0x01;
      fileSystem.writeFileForTest(filePath, bytes);
      expect(() => openMemoryWal(fileSystem), `slot ${slot}`).to.throw(FalconFailure, new RegExp(`hard-state[\\s\\S]*slot ${slot}`));
    }
  });

  it('upgrades a version-2 file: it loads, and the next save writes the two-slot file', () => {
    const fileSystem = new MemoryFileSystem();
    openMemoryWal(fileSystem).wal.close();
    fileSystem.writeFileForTest(filePath, singleRecordHardStateFile(2, 9, 'n3', 4, 'c'));
    const { wal, recovered } = openMemoryWal(fileSystem);
    expect(recovered.hardState).to.deep.equal({ term: 9, vote: 'n3', commit: 4, cluster: 'c' });
    unwrap(wal.saveHardState({ term: 10, vote: null, commit: 4 }));
    expect(fileSystem.readFileForTest(filePath).length).to.equal(hardStateFileBytes);
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.deep.equal({ term: 10, vote: null, commit: 4, cluster: 'c' });
  });
});
