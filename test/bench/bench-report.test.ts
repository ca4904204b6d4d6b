/**
 * The pure parts of `npm run bench` that decide what a reader sees: a child's figures are its
 * last JSON line whatever it printed before; each figure is judged against its issue's target
 * (pass, miss, or not run — never a pass for a figure that was not measured); shares are derived
 * from the same run; the Markdown summary and the last JSON line carry every figure; the options
 * refuse what they do not know and scale a quick run down; the failover figures read the
 * unavailability window and the throughput drop off the acknowledgement times. No benchmark runs.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { parseBenchOptions, scenarioSizes } from '../../bench/bench-options.js';
import { lastJsonLine, medianFigures, renderMarkdown, renderTable, summaryLine, type BenchRun } from '../../bench/bench-report.js';
import { derivedFigures, judgeFigures, verdictOf, type ScenarioFigures } from '../../bench/bench-targets.js';
import { failoverFigures, type AckedEnqueue } from '../../bench/failover-figures.js';

function runOf(figures: ScenarioFigures, overrides: Partial<BenchRun> = {}): BenchRun {
  return {
    bench: 'all', commit: '0123456789abcdef', startedAt: '2026-12-02T16:00:00.000Z', durationMs: 42_000, command: 'npm run bench -- --quick',
    machine: { cpuModel: 'AMD EPYC', cores: 2, nodeVersion: 'v20.20.2', loadAverage: [1.5, 1.2, 1], platform: 'Linux 6.18' },
    configuration: { quick: true }, scenarios: ['raft', 'queue', 'sdk'], figures, skipped: {}, failed: {}, ...overrides,
  };
}

describe('npm run bench: reading the children', () => {
  it('takes the last JSON line of a child, past tables, logs and a trailing text line', () => {
    const output = ['# Queue bench', '| figure | median |', '{"bench":"queue","enqueuePerSec":1}', 'run 1: {"x": 2} done',
      '{"bench":"queue","enqueuePerSec":56315.2,"drainPerSec":33563}', 'Warning: something', ''].join('\n');
    expect(lastJsonLine(output)).to.deep.equal({ bench: 'queue', enqueuePerSec: 56315.2, drainPerSec: 33563 });
  });

  it('finds no figures in output without a JSON object line (a crashed child)', () => {
    expect(lastJsonLine('Error: boom\n    at main (file.js:1:1)\n[1, 2]\n{"broken": \n')).to.equal(undefined);
  });

  it('takes the median of runs, the lower middle of an even count, skipping runs without the figure', () => {
    expect(medianFigures([{ a: 3, b: 10 }, { a: 1, b: Number.NaN }, { a: 2, b: 30 }, { a: 4, b: 20 }])).to.deep.equal({ a: 2, b: 20 });
  });
});

describe('npm run bench: judging figures against the issues\' targets', () => {
  it('passes a figure on its bound and misses it beyond, in both directions', () => {
    expect(verdictOf(100_000, { comparison: '>=', value: 100_000, setBy: 'issue 9' })).to.equal('pass');
    expect(verdictOf(99_999, { comparison: '>=', value: 100_000, setBy: 'issue 9' })).to.equal('miss');
    expect(verdictOf(2, { comparison: '<=', value: 2, setBy: 'issue 9' })).to.equal('pass');
    expect(verdictOf(2.01, { comparison: '<=', value: 2, setBy: 'issue 9' })).to.equal('miss');
  });

  it('never passes a figure that was not measured, and judges none without a target', () => {
    expect(verdictOf(undefined, { comparison: '<=', value: 2, setBy: 'issue 9' })).to.equal('not run');
    expect(verdictOf(Number.NaN, { comparison: '>=', value: 0, setBy: 'issue 9' })).to.equal('not run');
    expect(verdictOf(5, undefined)).to.equal('');
  });

  it('derives the shares from figures of the same run, and none when a part is missing', () => {
    const derived = derivedFigures({ raft: { commitBatch64PerSec: 80_000, walCeilingPerSec: 160_000 }, sdk: { sdkEnqueuePerSec: 90, rawEnqueuePerSec: 100 } });
    expect(derived).to.deep.equal({ raftBatch64ShareOfCeiling: 0.5, sdkEnqueueShareOfRaw: 0.9 });
  });

  it('judges the rows of the table: a miss, a pass on a derived share, and not run for an absent figure', () => {
    const rows = judgeFigures({ queue: { enqueuePerSec: 56_315, drainPerSec: 33_563, singleEnqueueP99Ms: 1.5 } });
    const byKey = new Map(rows.map((row) => [row.key, row]));
    expect(byKey.get('queue.enqueuePerSec')?.verdict).to.equal('miss');
    expect(byKey.get('queue.singleEnqueueP99Ms')?.verdict).to.equal('pass');
    expect(byKey.get('derived.drainShareOfEnqueue')?.verdict).to.equal('pass');
    expect(byKey.get('queue.e2eP99Ms')?.verdict).to.equal('not run');
    expect(byKey.get('raft.failoverMedianMs')?.target?.setBy).to.equal('issue 7');
  });
});

describe('npm run bench: the report', () => {
  const figures: ScenarioFigures = { queue: { enqueuePerSec: 56_315.2, singleEnqueueP99Ms: 5.4 }, sdk: { sdkEnqueuePerSec: 64_944, rawEnqueuePerSec: 34_167 } };

  it('prints the table with the value, the target and the verdict, only for the scenarios asked', () => {
    const table = renderTable(figures, ['queue']);
    expect(table).to.match(/queue: pipelined enqueue, 1 connection\s+56,315 jobs\/s\s+≥ 100,000 jobs\/s \(issue 9\)\s+miss\s+60–70K events\/s on 3 nodes/);
    expect(table).to.match(/queue: one enqueue at a time p99\s+5\.40 ms\s+≤ 2 ms \(issue 9\)\s+miss/);
    expect(table).not.to.contain('sdk:');
    expect(table).not.to.contain('raft:');
  });

  it('writes a Markdown section with the machine, the command, one row per figure and what was skipped or failed', () => {
    const markdown = renderMarkdown(runOf(figures, { skipped: { raft: 'it kills nodes' }, failed: { sdk: 'exited with 1: boom\nstack' } }));
    expect(markdown).to.contain('## All scenarios — `npm run bench` (2026-12-02 16:00 UTC, commit 0123456)');
    expect(markdown).to.contain('2 cores (AMD EPYC), Node v20.20.2, Linux 6.18, load average 1.50 1.20 1.00');
    expect(markdown).to.contain('| sdk: SDK / raw enqueue, same run | 1.90x | ≥ 0.8x (issue 10) | pass |  |');
    expect(markdown).to.contain('| raft: single proposal commit p99 | — | ≤ 2 ms (issue 7) | not run | p99 < 15 ms |');
    expect(markdown).to.contain('- raft: not run (it kills nodes).');
    expect(markdown).to.contain('- sdk: failed (exited with 1: boom).');
    expect(markdown).to.contain('A quick run');
  });

  it('ends with one JSON line that nests every scenario\'s figures under its key', () => {
    const line = JSON.parse(summaryLine(runOf({ ...figures, failover: { unavailableMsMedian: 120 } }, { skipped: { raft: 'x' } }))) as Record<string, unknown>;
    expect(line).to.deep.equal({
      bench: 'all', commit: '0123456789abcdef', queue: figures['queue'], sdk: figures['sdk'], failover: { unavailableMsMedian: 120 }, skipped: ['raft'],
    });
  });
});

describe('npm run bench: options', () => {
  it('runs every scenario by default with each script\'s own sizes', () => {
    const options = parseBenchOptions([]);
    expect(options.scenarios).to.deep.equal(['raft', 'oneNode', 'queue', 'sdk', 'failover']);
    const sizes = scenarioSizes(options);
    expect(sizes.raftArgs).to.deep.equal([]);
    expect(sizes.queueArgs).to.deep.equal([]);
  });

  it('scales a quick run down, and an explicit size wins over it', () => {
    const sizes = scenarioSizes(parseBenchOptions(['--quick', '--jobs', '30000']));
    expect(sizes.raftArgs.slice(0, 4)).to.deep.equal(['--runs', '1', '--kills', '1']);
    expect(sizes.queueArgs).to.include.members(['--jobs', '30000']);
    expect(sizes.own.jobs).to.equal(30_000);
  });

  it('refuses an unknown option, an unknown scenario and a number out of bounds, naming them', () => {
    expect(() => parseBenchOptions(['--fast'])).to.throw(/unknown option --fast/);
    expect(() => parseBenchOptions(['--scenario', 'queue,disk'])).to.throw(/--scenario disk is not one of/);
    expect(() => parseBenchOptions(['--runs', '0'])).to.throw(/--runs must be an integer from 1 to 20, got 0/);
    expect(() => parseBenchOptions(['--cluster'])).to.throw(/--cluster needs a path/);
    expect(parseBenchOptions(['--scenario', 'failover,onenode']).scenarios).to.deep.equal(['failover', 'oneNode']);
  });
});

describe('npm run bench: the failover figures', () => {
  // A producer sent 1,000 enqueues/s (one per ms) from t = 0 to 20 s, each acknowledged 0.5 ms
  // later; the kill at 10 s; no ack in the 250 ms after it (but for one reply already on its way),
  // then the 250 enqueues held up are acknowledged together.
  const killedAtMs = 10_000;
  const acks: AckedEnqueue[] = [];
  for (let sentMs = 0; sentMs < 20_000; sentMs += 1) {
    const held = sentMs >= killedAtMs && sentMs < killedAtMs + 250;
    acks.push({ sentMs, ackedMs: held ? killedAtMs + 250 : sentMs + 0.5 });
  }
  acks.push({ sentMs: killedAtMs - 1, ackedMs: killedAtMs + 0.2 });

  it('reads the unavailability window from the kill to the first acknowledgement after it', () => {
    const figures = failoverFigures(acks, { killedAtMs, aroundMs: 10_000, beforeStartMs: 0 });
    expect(figures.unavailableMs).to.equal(250);
    expect(figures.firstAckAfterKillMs).to.be.closeTo(0.2, 1e-6);
    expect(figures.beforePerSec).to.equal(1_000);
    expect(figures.aroundPerSec).to.equal(1_000.1);
    expect(figures.dropPercent).to.be.closeTo(-0.01, 1e-9);
    expect(figures.worstSecondPerSec).to.equal(751);
  });

  it('counts the enqueues lost in the window as a throughput drop', () => {
    const lost = acks.filter((ack) => ack.ackedMs !== killedAtMs + 250);
    const figures = failoverFigures(lost, { killedAtMs, aroundMs: 10_000, beforeStartMs: 0 });
    expect(figures.unavailableMs).to.equal(250.5);
    expect(figures.dropPercent).to.be.closeTo(2.49, 1e-9);
  });
});
