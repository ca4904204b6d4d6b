/**
 * The process the crash-safety test kills with SIGKILL: it opens the WAL in the directory it is
 * given (running recovery), saves a hard state with its term, then appends batches of 1..64
 * entries with fsync and prints every durable index, one line each, after `flush` returned.
 *
 * stdout lines: `recovered <lastIndex> <hardStateTerm>`, `hardstate <term>`, `durable <index>`.
 * Writes to a pipe are synchronous on Linux, so a printed line left the process before the next
 * append began. Bounded: it stops by itself after `batchesMax` batches or `runMsMax`.
 *
 * Usage: node crash-child.js <dir> <seed> <term>
 *
 * Runs on: a child process of the WAL crash test.
 */
import { WriteAheadLog } from '../../src/wal/wal.js';
import { entriesFor, seededRandom, unwrap } from './wal-test-helpers.js';

const batchesMax = 200_000;
const runMsMax = 20_000;
const batchEntriesMax = 64;
/** Small segments so that kills land during rotations too. */
const segmentBytes = 64 * 1024;

function main(): void {
  const [dir, seedText, termText] = process.argv.slice(2);
  const seed = Number(seedText);
  const term = Number(termText);
  if (dir === undefined || !Number.isSafeInteger(seed) || !Number.isSafeInteger(term)) {
    throw new Error('usage: crash-child.js <dir> <seed> <term>');
  }
  const random = seededRandom(seed);
  const { wal, recovered } = WriteAheadLog.open(dir, { segmentBytes });
  process.stdout.write(`recovered ${recovered.lastIndex} ${recovered.hardState?.term ?? 0}\n`);
  unwrap(wal.saveHardState({ term, vote: 'n1', commit: 0 }));
  process.stdout.write(`hardstate ${term}\n`);
  const startedMs = Date.now();
  for (let batch = 0; batch < batchesMax && Date.now() - startedMs < runMsMax; batch += 1) {
    const count = 1 + Math.floor(random() * batchEntriesMax);
    unwrap(wal.append(entriesFor(wal.lastIndex + 1, count, term)));
    const durable = unwrap(wal.flush());
    process.stdout.write(`durable ${durable}\n`);
  }
  wal.close();
}

main();
