/**
 * The command line of `npm run drill`, validated: each bad option is an error naming the option
 * and its rule, never a silent default.
 *
 *   --seed <n>          the fault schedule's and the workers' seed (default: drawn, and printed)
 *   --duration <s>      seconds of load and faults before the drain (default 180)
 *   --faults <list>     exactly these faults, in order, comma-separated (default: the seeded schedule)
 *   --rate <n>          new idempotency keys enqueued per second, all producers together (default 100)
 *   --producers <n>     producer clients (default 2)
 *   --workers <n>       worker processes (default 3)
 *   --out <dir>         where the run's folder goes (default bench/runs, which git ignores)
 *
 * Runs on: the drill runner's process.
 */
import { parseArgs } from 'node:util';
import { scheduledFaultKinds, type ScheduledFault } from './drill-faults.js';

export interface DrillOptions {
  readonly seed: number;
  readonly durationSeconds: number;
  /** Null: the seeded schedule. */
  readonly faults: readonly ScheduledFault[] | null;
  readonly ratePerSecond: number;
  readonly producers: number;
  readonly workers: number;
  readonly outDir: string | null;
}

/** Bounds that keep one run on this machine meaningful (an hour at most; a rate a 3-node cluster of 2 cores holds with faults). */
const durationSecondsMax = 3_600;
const ratePerSecondMax = 5_000;
const processesMax = 16;

export const drillUsage = 'usage: npm run drill -- [--seed <n>] [--duration <seconds>] [--faults kill-leader,partition,...] [--rate <keys/s>] [--producers <n>] [--workers <n>] [--out <dir>]';

/** What `--help` prints: the usage, each option, and how to replay a run. */
export const drillHelp = [
  'npm run drill: three nodes with faulted peer links, producers and killable workers, a seeded fault',
  'schedule, then a drain and a check that nothing acknowledged was lost or doubled.',
  '',
  drillUsage,
  '',
  '  --seed <n>          the fault schedule\'s and the workers\' seed (default: drawn, and printed)',
  `  --duration <s>      seconds of load and faults before the drain (default 180, at most ${durationSecondsMax})`,
  `  --faults <list>     exactly these faults, in order, comma-separated, from: ${scheduledFaultKinds.join(', ')}`,
  `  --rate <n>          new idempotency keys enqueued per second, all producers together (default 100, at most ${ratePerSecondMax})`,
  `  --producers <n>     producer clients (default 2, at most ${processesMax})`,
  `  --workers <n>       worker processes (default 3, at most ${processesMax})`,
  '  --out <dir>         where the run\'s folder goes (default bench/runs, which git ignores)',
  '',
  'Exit codes: 0 every check passed; 1 a violation (the seed and the replay command are printed);',
  '2 a bad command line. The last line of output is one JSON object with the run\'s figures.',
].join('\n');

function integer(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
  return parsed;
}

function faultList(value: string | undefined): ScheduledFault[] | null {
  if (value === undefined) return null;
  const kinds = value.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
  for (const kind of kinds) {
    if (!(scheduledFaultKinds as readonly string[]).includes(kind)) throw new Error(`--faults: unknown fault ${kind}; one of ${scheduledFaultKinds.join(', ')}`);
  }
  return kinds as ScheduledFault[];
}

export function parseDrillOptions(argv: readonly string[]): DrillOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seed: { type: 'string' }, duration: { type: 'string' }, faults: { type: 'string' }, rate: { type: 'string' },
      producers: { type: 'string' }, workers: { type: 'string' }, out: { type: 'string' },
    },
    strict: true,
  });
  return {
    seed: integer(values.seed, 'seed', 0, 2 ** 32 - 1, Date.now() % 1_000_000),
    durationSeconds: integer(values.duration, 'duration', 1, durationSecondsMax, 180),
    faults: faultList(values.faults),
    ratePerSecond: integer(values.rate, 'rate', 1, ratePerSecondMax, 100),
    producers: integer(values.producers, 'producers', 1, processesMax, 2),
    workers: integer(values.workers, 'workers', 1, processesMax, 3),
    outDir: values.out ?? null,
  };
}
