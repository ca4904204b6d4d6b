/**
 * The drill's figures on small histories whose answers can be worked out by hand: each fault's
 * unavailability window as a client sees it, the election time, the throughput drop around a node
 * failure, a killed worker's rebalance time and the call success rate; the report's target table
 * and its final JSON line; and a saved history read back and checked again offline.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDrillReport, drillReportLines, drillTargetRows } from '../../bench/drill/drill-report.js';
import { drillFigures } from '../../bench/drill/figures.js';
import { historyFromJsonLines, historyToJsonLines } from '../../bench/drill/history-file.js';
import { DrillHistory } from '../../bench/drill/history.js';
import { cleanScript, DrillScript } from './drill-script.js';

const checkHistoryScript = fileURLToPath(new URL('../../bench/drill/check-history.js', import.meta.url));

describe('drill figures', () => {
  it('measures unavailability from the fault to the first ok answer of an enqueue invoked after it', () => {
    const script = new DrillScript()
      .enqueue('op-0', 1, 990)            // invoked before the fault, answered at 995: not counted
      .fault('kill-leader', 'n1', 1000)
      .enqueueNotOk('op-1', 1010, 'unknown')
      .enqueue('op-2', 2, 1295)           // answered at 1300: the first ok
      .enqueue('op-3', 3, 1050);          // invoked earlier, but answered later (see below)
    // op-3 took longer: answered at 1500.
    const records = script.history.records.map((record) => record.kind === 'enqueue' && record.opId === 'op-3' ? { ...record, completeMs: 1500 } : record);
    const figures = drillFigures(records);
    expect(figures.faultWindows.map((window) => [window.unavailableMs, window.open, window.firstOkOpId])).to.deep.equal([[300, false, 'op-2']]);
    expect(figures.maxUnavailableMs).to.equal(300);
  });

  it('leaves a window open to the history\'s end when no enqueue succeeds after the fault', () => {
    const figures = drillFigures(new DrillScript().enqueue('op-0', 1, 0).fault('partition', 'n1', 100).enqueueNotOk('op-1', 200, 'unknown').history.records);
    expect(figures.faultWindows.map((window) => [window.unavailableMs, window.open])).to.deep.equal([[105, true]]);
  });

  it('measures the election from the fault to the first new leader observed in a higher term', () => {
    const figures = drillFigures(new DrillScript()
      .observe('n1', 1, 'leader', 0).observe('n2', 1, 'follower', 0, 'n1')
      .fault('kill-leader', 'n1', 1000)
      .observe('n2', 2, 'candidate', 1100)
      .observe('n3', 2, 'follower', 1350, 'n2')
      .observe('n2', 2, 'leader', 1400)
      .fault('sigstop', 'n3', 2000)        // n3 is not the leader: no election to measure
      .history.records);
    expect(figures.elections.map((election) => [election.electionMs, election.newLeader])).to.deep.equal([[350, 'n2']]);
    expect(figures.maxElectionMs).to.equal(350);
    expect(figures.elections[0]?.leaderCommitMs, 'a history without commit indexes').to.equal(null);
  });

  it('tells an election from a new leader slow to commit: the first time that leader is seen committing past the old commit', () => {
    const figures = drillFigures(new DrillScript()
      .observe('n1', 1, 'leader', 0, 'n1', 40).observe('n2', 1, 'follower', 0, 'n1', 42)
      .fault('partition', 'n1', 1000)
      .observe('n1', 1, 'leader', 1100, 'n1', 42)        // cut off: commits nothing more
      .observe('n2', 2, 'leader', 1400, 'n2', 42)        // elected, not committing yet
      .observe('n2', 2, 'leader', 1450, 'n2', 42)
      .observe('n2', 2, 'leader', 1900, 'n2', 43)
      .history.records);
    expect(figures.elections.map((election) => [election.electionMs, election.newLeader, election.leaderCommitMs])).to.deep.equal([[400, 'n2', 900]]);
  });

  it('compares acked enqueues per second in the 10 s after a node failure with the 10 s before', () => {
    const script = new DrillScript();
    for (let index = 0; index < 20; index += 1) script.enqueue(`before-${index}`, index + 1, index * 400);              // answered 5..7605 ms
    script.fault('kill-follower', 'n3', 10_000);
    for (let index = 0; index < 12; index += 1) script.enqueue(`after-${index}`, index + 100, 10_000 + index * 800);   // answered 10005..18805 ms
    script.observe('n1', 1, 'leader', 20_000);
    const [drop] = drillFigures(script.history.records).throughputDrops;
    expect(drop?.beforePerSecond).to.equal(2);
    expect(drop?.afterPerSecond).to.equal(1.2);
    expect(drop?.dropPercent).to.be.closeTo(40, 1e-9);
  });

  it('clips the throughput windows to the history', () => {
    const script = new DrillScript();
    for (let index = 0; index < 5; index += 1) script.enqueue(`before-${index}`, index + 1, index * 1000 - 5 + (index === 0 ? 5 : 0));
    script.fault('kill-leader', 'n1', 5000).enqueue('after-0', 10, 5995);
    // History from 0 to 6000 ms: 5 acked in 5 s before, 1 in the 1 s after (its end included).
    const [drop] = drillFigures(script.history.records).throughputDrops;
    expect([drop?.beforePerSecond, drop?.afterPerSecond, drop?.dropPercent]).to.deep.equal([1, 1, 0]);
  });

  it('measures a worker\'s rebalance from its kill until every job it held was delivered elsewhere', () => {
    const figures = drillFigures(new DrillScript()
      .enqueue('op-1', 1, 0).enqueue('op-2', 2, 0).enqueue('op-3', 3, 0)
      .deliver(1, 10, 'w1', 100, 'op-1').deliver(2, 11, 'w1', 100, 'op-2').deliver(3, 12, 'w1', 100, 'op-3')
      .ack(3, 12, 'w1', 200)                                  // done before the kill: not held
      .fault('kill-worker', 'w1', 500)
      .deliver(1, 20, 'w2', 2500, 'op-1')
      .deliver(2, 21, 'w2', 3500, 'op-2')
      .history.records);
    expect(figures.rebalances.map((figure) => [figure.jobsHeld, figure.firstMs, figure.allMs])).to.deep.equal([[[1, 2], 2000, 3000]]);
    expect(figures.maxRebalanceMs).to.equal(3000);
  });

  it('does not count as held a job whose ack the worker sent before its kill with an unknown outcome (it may have completed the job)', () => {
    const figures = drillFigures(new DrillScript()
      .enqueue('op-1', 1, 0).enqueue('op-2', 2, 0)
      .deliver(1, 10, 'w1', 100, 'op-1').deliver(2, 11, 'w1', 100, 'op-2')
      .ack(1, 10, 'w1', 400, 'unknown')                       // cut by the kill: the job may be done
      .ack(2, 11, 'w1', 450, 'LEASE_LOST')                    // refused: did nothing, still held
      .fault('kill-worker', 'w1', 500)
      .deliver(2, 20, 'w2', 2500, 'op-2')
      .history.records);
    expect(figures.rebalances.map((figure) => [figure.jobsHeld, figure.allMs])).to.deep.equal([[[2], 2000]]);
  });

  it('counts the rebalance as never when a held job never moved', () => {
    const figures = drillFigures(new DrillScript().enqueue('op-1', 1, 0).deliver(1, 10, 'w1', 100, 'op-1').fault('kill-worker', 'w1', 500).history.records);
    expect(figures.maxRebalanceMs).to.equal(null);
    expect(figures.rebalances[0]?.jobsNeverMoved).to.deep.equal([1]);
  });

  it('rates success as ok calls over all calls, each after the SDK\'s retries', () => {
    const figures = drillFigures(new DrillScript()
      .enqueue('op-1', 1, 0).enqueue('op-2', 2, 0).enqueue('op-3', 3, 0).enqueueNotOk('op-4', 0, 'unknown')
      .ack(1, 10, 'w1', 10).ack(2, 11, 'w1', 10, 'LEASE_LOST').call('pull', 0, true).call('pull', 0, true)
      .history.records);
    expect(figures.successRate).to.equal(6 / 8);
    expect(figures.successByCall).to.deep.equal({ enqueue: { ok: 3, all: 4 }, ack: { ok: 1, all: 2 }, pull: { ok: 2, all: 2 } });
  });
});

describe('drill report', () => {
  it('ends with the drill\'s JSON line', () => {
    const script = cleanScript().fault('kill-leader', 'n1', 100).enqueue('op-3', 3, 150).finalState(3, 'completed', 'op-3');
    const lines = drillReportLines(buildDrillReport(script.history.records, { jobs: script.finalJobs }, { seed: 42 }));
    expect(lines).to.include('  final state: completed 3');
    expect(JSON.parse(lines[lines.length - 1] ?? '')).to.deep.equal({
      drill: 'pass', seed: 42, ops: 5, lostAcked: 0, duplicateKeys: 0, staleAcksAccepted: 0, leadersPerTermMax: 1, maxUnavailableMs: 55, successRate: 1,
    });
  });

  it('fails on a violation, prints it, and names the seed to replay', () => {
    const script = cleanScript().enqueue('op-3', 3, 50);
    const lines = drillReportLines(buildDrillReport(script.history.records, { jobs: script.finalJobs }, { seed: 7 }));
    expect(JSON.parse(lines[lines.length - 1] ?? '')).to.include({ drill: 'fail', lostAcked: 1 });
    expect(lines.some((line) => line.includes('[lostAcked/lost] job 3'))).to.equal(true);
    expect(lines).to.include('replay: npm run drill -- --seed 7');
  });

  it('sets each figure beside the seed\'s target, pass or miss', () => {
    const figures = drillFigures(new DrillScript()
      .observe('n1', 1, 'leader', 0).fault('kill-leader', 'n1', 1000).observe('n2', 2, 'leader', 1700)
      .enqueue('op-1', 1, 1200).enqueueNotOk('op-2', 1300, 'unknown').history.records);
    const verdicts = Object.fromEntries(drillTargetRows(figures).map((row) => [row.figure, [row.value, row.verdict]]));
    expect(verdicts).to.deep.equal({
      'failover: fault → new leader seen (worst, /status polls)': ['700 ms', 'miss'],
      'failover: fault → first enqueue ok (worst, as a client sees it)': ['205 ms', 'pass'],
      'throughput drop when a node fails (worst)': ['n/a', 'n/a'],
      'worker rebalance after a kill (worst)': ['n/a', 'n/a'],
      'SDK call success rate': ['50.00 %', 'miss'],
    });
  });
});

describe('drill history recorder', () => {
  it('keeps a call never answered pending, and counts it as a failed call', () => {
    const history = new DrillHistory();
    history.invokeEnqueue({ opId: 'op-1', process: 'p1', atMs: 10 });
    expect(history.records[0]).to.deep.include({ kind: 'enqueue', outcome: { type: 'pending' } });
    expect(drillFigures(history.records).successRate).to.equal(0);
  });

  it('refuses a second completion, a completion before the invoke, and an op id used twice', () => {
    const history = new DrillHistory();
    const call = history.invokeAck({ jobId: 1, token: 5, process: 'w1', atMs: 10 });
    expect(() => call.accepted({ atMs: 9 })).to.throw(/completes at 9, before its invoke at 10/);
    call.accepted({ atMs: 11 });
    expect(() => call.refused({ atMs: 12, code: 'LEASE_LOST' })).to.throw(/completed twice/);
    history.invokeEnqueue({ opId: 'op-1', process: 'p1', atMs: 10 });
    expect(() => history.invokeEnqueue({ opId: 'op-1', process: 'p1', atMs: 20 })).to.throw(/op id op-1 recorded twice/);
  });
});

describe('drill history file', () => {
  it('reads back what it wrote', () => {
    const script = cleanScript().fault('partition', 'n1|n2,n3', 100, 900).released('w1', 950).extend(1, 100, 'w1', 35, 2000).enqueueNotOk('op-9', 60, 'failed');
    script.history.invokeEnqueue({ opId: 'op-pending', process: 'p2', atMs: 70 });
    const saved = { seed: 'abc', records: script.history.records, final: { jobs: script.finalJobs } };
    const read = historyFromJsonLines(historyToJsonLines(saved));
    expect(read).to.deep.equal({ ok: true, value: saved });
  });

  it('names the first bad line', () => {
    const text = historyToJsonLines({ seed: 1, records: cleanScript().history.records, final: null });
    const lines = text.split('\n');
    lines[5] = lines[5]?.replace('"token":100', '"token":-1') ?? '';
    const read = historyFromJsonLines(lines.join('\n'));
    expect(read.ok).to.equal(false);
    if (!read.ok) expect(read.error.message).to.match(/^drill history line 6: token: /);
    expect(historyFromJsonLines('{"format":"other"}\n').ok).to.equal(false);
  });

  it('is checked again offline by check-history.js, exiting non-zero on a violation', function () {
    this.timeout(20_000);
    const dir = mkdtempSync(join(tmpdir(), 'drill-history-'));
    try {
      const passing = join(dir, 'pass.jsonl');
      const failing = join(dir, 'fail.jsonl');
      const clean = cleanScript();
      writeFileSync(passing, historyToJsonLines({ seed: 5, records: clean.history.records, final: { jobs: clean.finalJobs } }));
      const lost = cleanScript().enqueue('op-3', 3, 50);
      writeFileSync(failing, historyToJsonLines({ seed: 6, records: lost.history.records, final: { jobs: lost.finalJobs } }));
      const pass = spawnSync(process.execPath, [checkHistoryScript, passing], { encoding: 'utf8' });
      const fail = spawnSync(process.execPath, [checkHistoryScript, failing], { encoding: 'utf8' });
      const unreadable = spawnSync(process.execPath, [checkHistoryScript, join(dir, 'missing.jsonl')], { encoding: 'utf8' });
      expect([pass.status, fail.status, unreadable.status]).to.deep.equal([0, 1, 2]);
      expect(JSON.parse(pass.stdout.trim().split('\n').pop() ?? '')).to.include({ drill: 'pass', seed: 5 });
      expect(JSON.parse(fail.stdout.trim().split('\n').pop() ?? '')).to.include({ drill: 'fail', seed: 6, lostAcked: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
