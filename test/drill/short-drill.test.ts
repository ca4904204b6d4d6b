/**
 * A short drill inside `npm test`: `dist/bench/drill/drill.js` as a child process with a fixed seed
 * and a short fault list (the leader killed twice, the leader isolated by a partition, a worker
 * holding leases killed), three real nodes behind the fault network, producers and worker
 * processes. It must pass: no acknowledged enqueue lost, no idempotency key with two jobs, no stale
 * ack accepted, at most one leader per term, every fault run, and real traffic through it.
 *
 * The drill leads its own process group, so that a drill overrunning its bound is killed with
 * every node and worker it started. On a failure the drill's output (its seed, replay command and
 * history file) is printed and its run folder kept.
 *
 * Runs on: the mocha process; the drill, its nodes and workers are separate processes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const drillEntry = fileURLToPath(new URL('../../bench/drill/drill.js', import.meta.url));
const seed = Number(process.env['DRILL_SEED'] ?? 20_261_202);
const faults = ['kill-leader', 'partition', 'kill-worker', 'kill-leader'];
/** The drill's own bound: its faults take about 40 s on this 2-core machine, the start and the drain about 20 s more. */
const drillTimeoutMs = 150_000;
/** Enough to see the faults' effects, little enough for a busy machine. */
const keysPerSecond = 60;

interface DrillSummary {
  readonly drill: 'pass' | 'fail';
  readonly seed: number;
  readonly ops: number;
  readonly lostAcked: number;
  readonly duplicateKeys: number;
  readonly staleAcksAccepted: number;
  readonly leadersPerTermMax: number;
  readonly maxUnavailableMs: number;
  readonly successRate: number;
}

function runDrillChild(args: readonly string[]): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [drillEntry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const timer = setTimeout(() => {
      output += `\n(the drill overran ${drillTimeoutMs} ms: killed with its process group)\n`;
      try { process.kill(-(child.pid ?? 0), 'SIGKILL'); } catch { /* gone already */ }
    }, drillTimeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', output });
    });
  });
}

describe('a short drill (real processes, kill -9 and partitions under load)', function () {
  this.timeout(drillTimeoutMs + 20_000);

  it('loses no acknowledged job, doubles no key, accepts no stale ack and sees one leader per term', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'falcon-drill-'));
    const { code, output } = await runDrillChild(['--seed', String(seed), '--duration', '90', '--faults', faults.join(','),
      '--rate', String(keysPerSecond), '--workers', '3', '--out', outDir]);
    const lines = output.trim().split('\n');
    let summary: DrillSummary | undefined;
    try {
      summary = JSON.parse(lines[lines.length - 1] ?? '') as DrillSummary;
    } catch { /* judged below with the output */ }
    const context = `drill seed ${seed}, exit ${String(code)}; its output:\n${lines.slice(-60).join('\n')}`;
    expect(summary, context).to.not.equal(undefined);
    expect(summary?.drill, context).to.equal('pass');
    expect(code, context).to.equal(0);
    expect(summary?.lostAcked, context).to.equal(0);
    expect(summary?.duplicateKeys, context).to.equal(0);
    expect(summary?.staleAcksAccepted, context).to.equal(0);
    expect(summary?.leadersPerTermMax, context).to.equal(1);
    expect(output, context).to.include(`faults run: ${faults.join(', ')}`);
    expect(summary?.ops ?? 0, `${context}\n(too few operations: the drill did not drive the cluster)`).to.be.above(1_000);
    await rm(outDir, { recursive: true, force: true });
  });
});
