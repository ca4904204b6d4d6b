/**
 * The options of `npm run bench` and the sizes they give each scenario: the arguments passed to
 * the bench:* scripts and the sizes of the bench's own scenarios (one node, failover under load).
 * Without options each script keeps its own defaults (bench:raft 3 runs of 100 kills, bench:queue
 * 3 runs of 200,000 jobs, …); `--quick` scales every scenario down so that the whole run takes
 * under a minute on a 2-core machine; `--runs`, `--jobs`, `--duration-ms` and `--kills` override
 * either. Pure: argv in, options out.
 *
 * Invariants: every number is a safe integer within its named bound; an unknown option or
 * scenario is refused, naming it and what is allowed.
 *
 * Runs on: the bench process (and the tests).
 */

export const scenarioNames = ['raft', 'oneNode', 'queue', 'sdk', 'failover'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface BenchOptions {
  readonly scenarios: readonly ScenarioName[];
  readonly quick: boolean;
  readonly runs: number | undefined;
  /** Jobs per enqueue phase (bench:queue, bench:sdk, one node). */
  readonly jobs: number | undefined;
  /** Each steady-rate phase: the end-to-end runs, and the failover window around the kill. */
  readonly durationMs: number | undefined;
  readonly kills: number | undefined;
  /** An existing cluster's config file: no cluster is started. */
  readonly cluster: string | undefined;
  /** Where the run's JSON, Markdown and logs go (a folder git ignores). */
  readonly outDir: string;
  /** The failover run's enqueue rate; default half the measured pipelined maximum. */
  readonly failoverRatePerSec: number | undefined;
}

/** Bounds of the numeric options: beyond them a run is a mistake, not a bench. */
const bounds = {
  '--runs': 20, '--jobs': 5_000_000, '--duration-ms': 600_000, '--kills': 1_000, '--failover-rate': 1_000_000,
} as const;

const usage = 'options: --scenario <raft|oneNode|queue|sdk|failover>[,…] --quick --runs N --jobs N --duration-ms N --kills N '
  + '--failover-rate N --cluster <config.yaml> --out <dir>';

/** What `--help` prints. */
export const benchHelp = [
  'npm run bench: every benchmark on fresh local clusters (real processes, fsync always), each figure',
  'beside the target of the issue that set it; a JSON file and a Markdown summary in bench/runs/.',
  '',
  '  --scenario <list>     run only these, comma-separated: raft, oneNode, queue, sdk, failover',
  '  --quick               every scenario scaled down (about a minute on a quiet 2-core machine)',
  '  --runs N              runs per scenario (median and spread reported; default each script\'s own, 3)',
  '  --jobs N              jobs per enqueue phase',
  '  --duration-ms N       each steady-rate phase, and the window around the failover kill',
  '  --kills N             kill -9 failovers per bench:raft run (default 100)',
  '  --failover-rate N     jobs/s of the steady load during the failover scenario',
  '  --cluster <file>      measure a running cluster (its cluster.yaml); scenarios that kill nodes are skipped',
  '  --out <dir>           where the run\'s folder goes (default bench/runs, which git ignores)',
  '',
  'Exit codes: 0 done (a missed target is a figure, not a failure); 1 a scenario crashed; 2 a bad',
  'command line. The last line of output is one JSON object nesting each scenario\'s figures.',
].join('\n');

function integerOption(name: keyof typeof bounds, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 1 || value > bounds[name]) {
    throw new Error(`${name} must be an integer from 1 to ${bounds[name]}, got ${text ?? 'nothing'}`);
  }
  return value;
}

function scenarioList(text: string | undefined): ScenarioName[] {
  const names = (text ?? '').split(',').filter((name) => name !== '');
  if (names.length === 0) throw new Error(`--scenario needs a name: ${scenarioNames.join(', ')}`);
  return names.map((name) => {
    const found = scenarioNames.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (found === undefined) throw new Error(`--scenario ${name} is not one of ${scenarioNames.join(', ')}`);
    return found;
  });
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  let scenarios: ScenarioName[] = [...scenarioNames];
  const numbers: Partial<Record<keyof typeof bounds, number>> = {};
  let quick = false;
  let cluster: string | undefined;
  let outDir = 'bench/runs';
  for (let at = 0; at < argv.length; at += 1) {
    const name = argv[at] ?? '';
    const value = argv[at + 1];
    if (name === '--quick') quick = true;
    else if (name === '--scenario') { scenarios = scenarioList(value); at += 1; }
    else if (name === '--cluster' || name === '--out') {
      if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a path`);
      if (name === '--cluster') cluster = value;
      else outDir = value;
      at += 1;
    } else if (name in bounds) { numbers[name as keyof typeof bounds] = integerOption(name as keyof typeof bounds, value); at += 1; }
    else throw new Error(`unknown option ${name}; ${usage}`);
  }
  return {
    scenarios, quick, cluster, outDir, runs: numbers['--runs'], jobs: numbers['--jobs'], durationMs: numbers['--duration-ms'],
    kills: numbers['--kills'], failoverRatePerSec: numbers['--failover-rate'],
  };
}

/** The sizes of the bench's own scenarios. */
export interface OwnSizes {
  readonly runs: number;
  readonly jobs: number;
  readonly singles: number;
  /** The failover window centred on the kill (the before window is as long, when there is room). */
  readonly aroundMs: number;
  /** Load before the before window starts (connections opened, the leader's code warm). */
  readonly warmMs: number;
}

export interface ScenarioSizes {
  readonly raftArgs: readonly string[];
  readonly queueArgs: readonly string[];
  readonly sdkArgs: readonly string[];
  readonly own: OwnSizes;
}

/** Quick sizes: each scenario one short run (see the header). */
const quickSizes = { runs: 1, kills: 1, jobs: 10_000, sdkJobs: 5_000, durationMs: 1_500, failoverAroundMs: 3_000, warmMs: 500 } as const;
/** Default sizes of the bench's own scenarios (the scripts keep theirs). */
const ownDefaults = { runs: 3, jobs: 200_000, singles: 3_000, aroundMs: 10_000, warmMs: 2_000 } as const;

function withValue(name: string, value: number | undefined): string[] {
  return value === undefined ? [] : [name, String(value)];
}

export function scenarioSizes(options: BenchOptions): ScenarioSizes {
  const quick = options.quick;
  const runs = options.runs ?? (quick ? quickSizes.runs : undefined);
  const jobs = options.jobs ?? (quick ? quickSizes.jobs : undefined);
  const durationMs = options.durationMs ?? (quick ? quickSizes.durationMs : undefined);
  const kills = options.kills ?? (quick ? quickSizes.kills : undefined);
  const raftArgs = [...withValue('--runs', runs), ...withValue('--kills', kills),
    ...(quick ? ['--sigterms', '1', '--entries', '30000', '--singles', '300', '--warm-entries', '10000'] : [])];
  const queueArgs = [...withValue('--runs', runs), ...withValue('--jobs', jobs), ...withValue('--steady-ms', durationMs),
    ...(quick ? ['--warm-jobs', '5000', '--singles', '300', '--settle-ms', '500'] : [])];
  const sdkArgs = [...withValue('--runs', runs), ...withValue('--jobs', options.jobs ?? (quick ? quickSizes.sdkJobs : undefined)),
    ...(quick ? ['--warm-jobs', '2000', '--api-ms', '500'] : [])];
  const own: OwnSizes = {
    runs: runs ?? ownDefaults.runs,
    jobs: jobs ?? ownDefaults.jobs,
    singles: quick ? 300 : ownDefaults.singles,
    aroundMs: options.durationMs ?? (quick ? quickSizes.failoverAroundMs : ownDefaults.aroundMs),
    warmMs: quick ? quickSizes.warmMs : ownDefaults.warmMs,
  };
  return { raftArgs, queueArgs, sdkArgs, own };
}
