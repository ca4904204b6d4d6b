/**
 * Crash safety with real processes: a child appends in batches with fsync and prints each durable
 * index; the test kills it with SIGKILL at random moments (30 kills, seeded), reopens the WAL
 * after each, and checks that every index reported durable is present and intact, that the log is
 * contiguous with every record verified, and that nothing beyond the child's last batch appeared.
 *
 * Runs on: the mocha process, with child processes (killed by PID in the after-hook).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WriteAheadLog } from '../../src/wal/wal.js';
import { isIntactEntry, makeTemporaryDirectory, readAll, removeDirectory, seededRandom, testSeed } from './wal-test-helpers.js';

const childPath = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const kills = 30;
const reportsBeforeKillMax = 40;
const batchEntriesMax = 64;
const waitMsMax = 10_000;
const testMsMax = 90_000;

interface ChildRun {
  readonly recoveredLastIndex: number;
  readonly durableIndexes: number[];
  readonly hardStateTerm: number | null;
}

/** Runs the child until it reported `reportsWanted` durable indexes, then SIGKILLs it and waits for its exit. */
async function runAndKill(child: ChildProcess, reportsWanted: number): Promise<ChildRun> {
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const run = { recoveredLastIndex: -1, durableIndexes: [] as number[], hardStateTerm: null as number | null };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child sent ${run.durableIndexes.length} of ${reportsWanted} durable reports in ${waitMsMax} ms; stderr: ${stderr}`)), waitMsMax);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`child exited early after ${run.durableIndexes.length} reports; stderr: ${stderr}`));
    });
    lines.on('line', (line) => {
      const [kind, value, extra] = line.split(' ');
      if (kind === 'recovered') run.recoveredLastIndex = Number(value);
      if (kind === 'recovered' && Number(extra) > 0) run.hardStateTerm = Number(extra);
      if (kind === 'hardstate') run.hardStateTerm = Number(value);
      if (kind === 'durable') run.durableIndexes.push(Number(value));
      if (run.durableIndexes.length >= reportsWanted) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await exited;
  lines.close();
  return run;
}

describe('WAL crash safety with real processes (SIGKILL)', function () {
  this.timeout(testMsMax);
  const children = new Set<ChildProcess>();
  let dir = '';

  before(async () => {
    dir = await makeTemporaryDirectory('falcon-wal-crash-');
  });

  after(async () => {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
    await removeDirectory(dir);
  });

  it('keeps every index reported durable across 30 SIGKILLs, and accepts nothing past the last good record', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    let durableMax = 0;
    let lastVerifiedIndex = 0;
    let hardStateTerm = 0;
    for (let kill = 1; kill <= kills; kill += 1) {
      const context = `seed ${seed} (WAL_TEST_SEED=${seed} replays it), kill ${kill}`;
      const child = spawn(process.execPath, [childPath, dir, String(seed + kill), String(kill)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const run = await runAndKill(child, 1 + Math.floor(random() * reportsBeforeKillMax));
      children.delete(child);
      expect(run.recoveredLastIndex, `${context}: the child recovered what the test verified`).to.equal(lastVerifiedIndex);
      const reportedMax = Math.max(...run.durableIndexes);
      durableMax = Math.max(durableMax, reportedMax);
      hardStateTerm = run.hardStateTerm ?? hardStateTerm;

      const { wal, recovered } = WriteAheadLog.open(dir, { segmentBytes: 64 * 1024 });
      try {
        expect(recovered.lastIndex, `${context}: every reported durable index is present`).to.be.at.least(durableMax);
        expect(recovered.lastIndex, `${context}: nothing beyond the child's last batch`).to.be.at.most(reportedMax + batchEntriesMax);
        expect(recovered.hardState?.term ?? 0, `${context}: hard state`).to.equal(hardStateTerm);
        const entries = readAll(wal, 1 << 20);
        expect(entries.length, `${context}: contiguous from 1`).to.equal(recovered.lastIndex);
        const damaged = entries.find((entry, position) => entry.index !== position + 1 || !isIntactEntry(entry) || entry.term > kill);
        expect(damaged?.index, `${context}: every entry intact`).to.equal(undefined);
        lastVerifiedIndex = recovered.lastIndex;
      } finally {
        wal.close();
      }
    }
    expect(durableMax, `seed ${seed}: the children made progress`).to.be.greaterThan(kills);
  });
});
