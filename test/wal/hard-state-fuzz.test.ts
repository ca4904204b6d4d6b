/**
 * Randomized attack on the hard state saved in place: saves under injected faults (EIO, ENOSPC on
 * open, write, fdatasync, fsync, rename, directory sync, close), process kills, power losses
 * with torn unsynced tails, reopening after each, from a fresh directory or a version-2 file.
 * After every reopen: the file loads (never refused), and it holds either the last record
 * reported saved or one of the records whose save failed since (never anything older): the term
 * never goes back.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { HardState } from '../../src/log/hard-state.js';
import { hardStateFileName } from '../../src/wal/hard-state-codec.js';
import { MemoryFileSystem, type FileOperation } from '../../src/wal/memory-file-system.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import { memoryWalDir, openMemoryWal, seededRandom, singleRecordHardStateFile } from './wal-test-helpers.js';

const filePath = `${memoryWalDir}/${hardStateFileName}`;
const operations: FileOperation[] = ['open', 'write', 'fdatasync', 'fsync', 'rename', 'syncDirectory', 'close'];

const key = (state: HardState | null): string => state === null ? 'none' : `${state.term}/${state.vote}/${state.commit}`;

describe('hard state saved in place: randomized faults', () => {
  it('always reopens, with the last saved record or a later failed one', function () {
    this.timeout(120_000);
    for (let seed = 1; seed <= 400; seed++) {
      const random = seededRandom(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const fileSystem = new MemoryFileSystem();
      let wal: WriteAheadLog | null = openMemoryWal(fileSystem).wal;
      let baseline: HardState | null = null;
      if (random() < 0.5) {
        wal.close();
        fileSystem.writeFileForTest(filePath, singleRecordHardStateFile(2, 3, 'n2', 1, 'c'));
        const opened = openMemoryWal(fileSystem);
        wal = opened.wal;
        baseline = opened.recovered.hardState;
      }
      let failedSince: string[] = [];
      let term = baseline?.term ?? 0;
      const log: string[] = [];
      for (let step = 0; step < 60; step++) {
        const roll = random();
        if (roll < 0.55 && wal !== null) {
          if (random() < 0.35) {
            const operation = pick(operations);
            const code = pick(['EIO', 'ENOSPC']);
            fileSystem.injectFault({ operation, code, pathIncludes: 'hard-state', skipCalls: Math.floor(random() * 3) });
            log.push(`fault ${operation} ${code}`);
          }
          if (random() < 0.5) term += 1;
          const state: HardState = { term, vote: pick([null, 'n1', 'n2', 'n3']), commit: step };
          const outcome = wal.saveHardState(state);
          fileSystem.clearFaults();
          log.push(`save ${key(state)} ${outcome.ok ? 'ok' : 'failed'}`);
          if (outcome.ok) {
            baseline = state;
            failedSince = [];
          } else {
            failedSince.push(key(state));
            term = Math.max(term, baseline?.term ?? 0);
          }
        } else {
          if (roll < 0.75) {
            fileSystem.crashProcess();
            log.push('kill');
          } else {
            fileSystem.crashProcess();
            fileSystem.losePower(random);
            log.push('power loss');
          }
          let opened;
          try {
            opened = openMemoryWal(fileSystem);
          } catch (error) {
            throw new Error(`seed ${seed}: reopen refused after ${log.join('; ')}: ${String(error)}`, { cause: error });
          }
          wal = opened.wal;
          const loaded = opened.recovered.hardState;
          const allowed = [key(baseline), ...failedSince];
          expect(allowed, `seed ${seed}: loaded ${key(loaded)} after ${log.join('; ')}`).to.include(key(loaded));
          baseline = loaded;
          failedSince = [];
          term = Math.max(term, loaded?.term ?? 0);
          log.push(`reopen ${key(loaded)}`);
        }
      }
    }
  });
});

describe('hard state saved in place: a first save whose reopen of the file fails', () => {
  // The atomic replacement succeeds, then opening the new file for the in-place saves fails (here
  // a survivable DISK_FULL). The record is durably in force, so the save succeeds and its
  // sequence counts; the next save opens the file itself and writes the other slot with the next
  // sequence. (Reporting that save failed, with its sequence not counted, once left two slots with
  // sequence 1 and a file refused at the next start.)
  it('counts a first save whose file could not be reopened, and the next save goes to the other slot', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem);
    fileSystem.injectFault({ operation: 'open', code: 'ENOSPC', pathIncludes: hardStateFileName, skipCalls: 1 });
    expect(wal.saveHardState({ term: 1, vote: 'n1', commit: 0, cluster: 'c' }).ok).to.equal(true);
    fileSystem.clearFaults();
    expect(wal.saveHardState({ term: 2, vote: 'n2', commit: 0 }).ok).to.equal(true);
    fileSystem.crashProcess();
    fileSystem.losePower();
    expect(openMemoryWal(fileSystem).recovered.hardState).to.deep.equal({ term: 2, vote: 'n2', commit: 0, cluster: 'c' });
  });
});
