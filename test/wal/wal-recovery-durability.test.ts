/**
 * What recovery reports durable is durable: a process killed after `write` and before its
 * `fdatasync`, or after creating a segment or renaming the hard-state file and before the
 * directory fsync, leaves those bytes and names in the page cache. The next process reads them
 * back; recovery must sync them before it reports them, or a power loss later erases entries the
 * node acknowledged and a vote it cast (and it could vote twice in a term).
 *
 * Each test: run a workload until an injected fault stops it at a chosen syscall (the process dies
 * there), `crashProcess()` (unsynced data survives), reopen and note what recovery reports,
 * `losePower()`, reopen again: the second recovery must report exactly what the first did.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { MemoryFileSystem, type FileOperation } from '../../src/wal/memory-file-system.js';
import type { WalRecovered } from '../../src/wal/recovery.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import { appendAndFlush, entriesFor, isIntactEntry, openMemoryWal, readAll, seededRandom, testSeed, unwrap } from './wal-test-helpers.js';

const segmentBytes = 2048;
const randomRuns = 200;

/** What a reopen reports as durable, in a form two reopens can be compared by. */
function durableView(recovered: WalRecovered, wal: WriteAheadLog): Record<string, unknown> {
  return {
    firstIndex: recovered.firstIndex, lastIndex: recovered.lastIndex, lastTerm: recovered.lastTerm,
    durableLastIndex: wal.durableLastIndex, hardState: recovered.hardState, snapshot: recovered.snapshot,
    needsCatchUp: recovered.needsCatchUp,
  };
}

/** Kills the process (its page cache survives), reopens, then loses power and reopens again;
 *  checks that the second reopen reports what the first did, with every entry intact. */
function expectReportSurvivesPowerLoss(fileSystem: MemoryFileSystem, context: string, random?: () => number): Record<string, unknown> {
  fileSystem.clearFaults();
  fileSystem.crashProcess();
  const first = openMemoryWal(fileSystem, { segmentBytes });
  const reported = durableView(first.recovered, first.wal);
  first.wal.close();
  fileSystem.losePower(random);
  const second = openMemoryWal(fileSystem, { segmentBytes });
  expect(durableView(second.recovered, second.wal), `${context}: reported durable after a process crash, then lost in a power loss`)
    .to.deep.equal(reported);
  expect(readAll(second.wal).every((entry) => isIntactEntry(entry)), `${context}: entries intact`).to.equal(true);
  second.wal.close();
  return reported;
}

describe('WAL recovery reports durable only what it synced', () => {
  it('entries written but never fdatasynced before the kill survive a later power loss once recovery reported them', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes });
    expect(appendAndFlush(wal, entriesFor(1, 10, 1))).to.equal(10);
    unwrap(wal.append(entriesFor(11, 5, 1)));
    fileSystem.injectFault({ operation: 'fdatasync', code: 'EIO' });
    expect(wal.flush().ok, 'the process dies at the fdatasync').to.equal(false);
    const reported = expectReportSurvivesPowerLoss(fileSystem, 'unsynced bytes');
    expect(reported.lastIndex, 'the page cache held the unsynced entries').to.equal(15);
  });

  it('a new segment whose name was never made durable survives a later power loss once recovery reported it', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes });
    unwrap(wal.append(entriesFor(1, 40, 1)));
    fileSystem.injectFault({ operation: 'syncDirectory', code: 'EIO' });
    expect(wal.flush().ok, 'the process dies at the directory fsync after a rotation').to.equal(false);
    const reported = expectReportSurvivesPowerLoss(fileSystem, 'unsynced segment name');
    expect(reported.lastIndex).to.equal(40);
  });

  it('a hard-state file renamed into place before the directory fsync does not go back after a power loss (no second vote in a term)', () => {
    const fileSystem = new MemoryFileSystem();
    const { wal } = openMemoryWal(fileSystem, { segmentBytes });
    // The file is replaced (temp file, rename, directory fsync) only when it is first written.
    fileSystem.injectFault({ operation: 'syncDirectory', code: 'EIO' });
    expect(wal.saveHardState({ term: 4, vote: 'n3', commit: 0 }).ok, 'the process dies at the directory fsync').to.equal(false);
    const reported = expectReportSurvivesPowerLoss(fileSystem, 'unsynced hard-state rename');
    expect(reported.hardState).to.deep.equal({ term: 4, vote: 'n3', commit: 0, cluster: null });
  });

  it('whatever syscall the process dies at, nothing reported durable at the restart is lost in a later power loss (seeded)', () => {
    const seed = testSeed();
    const operations: FileOperation[] = ['write', 'fdatasync', 'fsync', 'syncDirectory', 'rename', 'unlink', 'truncate'];
    for (let run = 0; run < randomRuns; run += 1) {
      const random = seededRandom(seed + run);
      const operation = operations[Math.floor(random() * operations.length)] as FileOperation;
      const context = `seed ${seed + run} (WAL_TEST_SEED=${seed} run ${run}), dies at ${operation}`;
      const fileSystem = new MemoryFileSystem();
      const { wal } = openMemoryWal(fileSystem, { segmentBytes });
      fileSystem.injectFault({ operation, code: 'EIO', skipCalls: Math.floor(random() * 40) });
      runWorkload(wal, random);
      expectReportSurvivesPowerLoss(fileSystem, context, random);
    }
  });
});

/** Appends, hard states, snapshots, truncations and compactions until the first failure. */
function runWorkload(wal: WriteAheadLog, random: () => number): void {
  let term = 1;
  for (let step = 0; step < 40; step += 1) {
    const choice = random();
    let ok: boolean;
    if (choice < 0.6) {
      ok = wal.append(entriesFor(wal.lastIndex + 1, 1 + Math.floor(random() * 12), term)).ok && wal.flush().ok;
    } else if (choice < 0.8) {
      term += random() < 0.5 ? 1 : 0;
      ok = wal.saveHardState({ term, vote: random() < 0.5 ? null : `n${1 + Math.floor(random() * 3)}`, commit: wal.durableLastIndex }).ok;
    } else if (choice < 0.9 && wal.lastIndex > (wal.snapshot?.index ?? 0)) {
      const index = (wal.snapshot?.index ?? 0) + 1 + Math.floor(random() * (wal.lastIndex - (wal.snapshot?.index ?? 0)));
      const snapshotTerm = unwrap(wal.termAt(index)) ?? term;
      ok = wal.saveSnapshot({ index, term: snapshotTerm, membership: { voters: ['n1'], learners: [] }, data: new Uint8Array(100) }).ok
        && wal.compact(index).ok;
    } else if (wal.lastIndex > (wal.snapshot?.index ?? 0) + 1) {
      term += 1;
      ok = wal.truncateFrom(wal.lastIndex - Math.floor(random() * Math.min(5, wal.lastIndex - (wal.snapshot?.index ?? 0) - 1))).ok;
    } else {
      ok = true;
    }
    if (!ok) return;
  }
}
