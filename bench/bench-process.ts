/**
 * Child processes of `npm run bench`: a bench:* script or one bench client scenario
 * (queue-bench-client.ts) run as its own Node process, its output passed on line by line and kept,
 * and its last JSON line returned. Each child leads its own process group, so that a child that
 * overruns its bound is killed together with the cluster nodes it started (by the group's id,
 * which is the child's pid), and so are the running ones when the bench is interrupted.
 *
 * Invariants: every child is bounded in time (`timeoutMs`); a child that exits non-zero, overruns
 * or prints no JSON line rejects with the end of its output.
 *
 * Runs on: the bench process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lastJsonLine, numericFigures } from './bench-report.js';

export const clientEntry = fileURLToPath(new URL('./queue-bench-client.js', import.meta.url));

export interface ChildOptions {
  /** Called with each complete line the child prints (stdout and stderr). */
  readonly onLine?: (line: string) => void;
  readonly timeoutMs: number;
  /** Opens an IPC channel; called with each message the child sends. */
  readonly onMessage?: (message: unknown, child: ChildProcess) => void;
}

export interface ChildResult {
  readonly output: string;
  readonly line: Record<string, number | string>;
}

/** Output kept per child for the error message and the run's log (the end is what matters). */
const outputCharsMax = 4 * 1024 * 1024;
const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch { /* the group is gone already */ }
}

/** Kills every running child and what it started (on an interrupt). */
export function killRunningChildren(): void {
  for (const child of running) killGroup(child);
}

export function runChild(entry: string, args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const stdio = options.onMessage === undefined ? ['ignore', 'pipe', 'pipe'] as const : ['ignore', 'pipe', 'pipe', 'ipc'] as const;
  const child = spawn(process.execPath, [entry, ...args], { stdio: [...stdio], detached: true });
  running.add(child);
  let output = '';
  let partial = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString();
    output = (output + text).slice(-outputCharsMax);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) options.onLine?.(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  if (options.onMessage !== undefined) child.on('message', (message) => options.onMessage?.(message, child));
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, options.timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      // Whatever the child started and left behind (it failed half-way) goes with it.
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch { /* nothing left */ }
      if (partial !== '') options.onLine?.(partial);
      const line = lastJsonLine(output);
      const tail = output.slice(-2_000);
      if (timedOut) reject(new Error(`${entry} did not finish within ${options.timeoutMs} ms: ${tail}`));
      else if (code !== 0) reject(new Error(`${entry} exited with ${String(code ?? signal)}: ${tail}`));
      else if (line === undefined) reject(new Error(`${entry} printed no JSON line: ${tail}`));
      else resolve({ output, line });
    });
  });
}

/** Every bench client scenario must finish within this (a stuck one fails its scenario, visibly). */
const clientTimeoutMs = 180_000;

/** One scenario of queue-bench-client.ts against the nodes at `ports` (and `hosts`); its JSON line. */
export async function runClientLine(nodes: ClientNodes, scenario: Record<string, unknown>, options: Partial<ChildOptions> = {}): Promise<Record<string, number | string>> {
  const parameters = { ports: nodes.ports, ...(nodes.hosts === undefined ? {} : { hosts: nodes.hosts }), timeoutMs: clientTimeoutMs, ...scenario };
  return (await runChild(clientEntry, [JSON.stringify(parameters)], { timeoutMs: clientTimeoutMs + 10_000, ...options })).line;
}

/** The same, its numeric figures only. */
export async function runClient(nodes: ClientNodes, scenario: Record<string, unknown>, options: Partial<ChildOptions> = {}): Promise<Record<string, number>> {
  return numericFigures(await runClientLine(nodes, scenario, options));
}

export interface ClientNodes {
  readonly ports: readonly number[];
  readonly hosts?: readonly string[];
}
