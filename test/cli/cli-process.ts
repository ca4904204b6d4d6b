/**
 * Runs the `falcon` CLI as a separate process, as a script would: arguments, optional stdin text
 * (else stdin is /dev/null: not a terminal, nothing to read), and the exit code, stdout and
 * stderr it leaves. Each run is bounded; a run that overstays is killed by PID and fails with
 * what it printed.
 *
 * Runs on: the mocha process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const falconEntry = fileURLToPath(new URL('../../src/cli/falcon.js', import.meta.url));
export const falconWorkerEntry = fileURLToPath(new URL('../../src/cli/falcon-worker.js', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A CLI run's stdout as the one JSON object `--json` promises (fails naming what was printed otherwise). */
export function jsonOf(run: CliRun): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected exactly one JSON line on stdout, got ${lines.length}:\n${run.stdout}\nstderr: ${run.stderr}`);
  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

export function runCli(entry: string, args: readonly string[], options: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [entry, ...args], {
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, FALCON_TOKEN: '', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`falcon ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    // 'close': the process exited and its output streams ended, so nothing printed is missed.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `falcon <args>`. */
export function runFalcon(args: readonly string[], options: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return runCli(falconEntry, args, options);
}
