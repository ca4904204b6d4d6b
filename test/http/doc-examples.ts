/**
 * Runs the ```sh blocks of a Markdown page verbatim, in order, in one bash process (so variables
 * set by one block serve the next, as in a reader's terminal), and checks each block's output
 * against its `# → ` lines.
 *
 * Each output line is matched to one `# → ` line: when the expected line is JSON, the output must
 * be JSON of the same shape (the same keys at every level, arrays of the same length, equal
 * strings, booleans and nulls, any number in place of a number; a string with `…` matches any
 * text in its place); otherwise the line must be equal (with `…` matching any text).
 *
 * The shell runs with HOME set to a temporary directory whose .curlrc writes a newline after each
 * answer (`curl -s` prints none), so that every answer is a line of its own.
 *
 * Runs on: test process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExampleBlock {
  /** The block's 1-based line in the page, for messages. */
  readonly line: number;
  readonly script: string;
  readonly expected: readonly string[];
}

export function shellBlocks(markdown: string): ExampleBlock[] {
  const blocks: ExampleBlock[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    if (lines[index]?.trim() !== '```sh') continue;
    const start = index + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end += 1;
    const body = lines.slice(start, end);
    blocks.push({ line: start, script: body.join('\n'), expected: body.filter((line) => line.startsWith('# → ')).map((line) => line.slice(4)) });
    index = end;
  }
  return blocks;
}

/** What each block printed, one entry per block (lines, empty ones dropped). */
export async function runBlocks(blocks: readonly ExampleBlock[], env: Readonly<Record<string, string>>, timeoutMs: number): Promise<string[][]> {
  const home = await mkdtemp(join(tmpdir(), 'falcon-doc-'));
  try {
    await writeFile(join(home, '.curlrc'), 'write-out = "\\n"\nmax-time = 30\n');
    const marker = '::falcon-doc-block::';
    const script = blocks.map((block) => `${block.script}\necho '${marker}'`).join('\n');
    const output = await runBash(script, { ...env, HOME: home }, timeoutMs);
    const parts = output.split(`${marker}\n`);
    return blocks.map((_, position) => (parts[position] ?? '').split('\n').filter((line) => line.trim() !== ''));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function runBash(script: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the examples did not finish within ${timeoutMs} ms; output so far:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (stderr.trim() !== '') reject(new Error(`the examples wrote to stderr (exit ${String(code)}):\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Why `actual` does not match the `# → ` line `expected`, or undefined when it does. */
export function mismatch(expected: string, actual: string): string | undefined {
  let expectedValue: unknown;
  try {
    expectedValue = JSON.parse(expected);
  } catch {
    return textMatches(expected, actual) ? undefined : `expected ${expected}, got ${actual}`;
  }
  let actualValue: unknown;
  try {
    actualValue = JSON.parse(actual);
  } catch {
    return `expected JSON like ${expected}, got ${actual}`;
  }
  const problem = shapeMismatch(expectedValue, actualValue, '$');
  return problem === undefined ? undefined : `${problem}\n  expected like ${expected}\n  got          ${actual}`;
}

function textMatches(pattern: string, text: string): boolean {
  const escaped = pattern.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's').test(text);
}

function shapeMismatch(expected: unknown, actual: unknown, path: string): string | undefined {
  if (typeof expected === 'number') return typeof actual === 'number' ? undefined : `${path}: expected a number`;
  if (typeof expected === 'string') return typeof actual === 'string' && textMatches(expected, actual) ? undefined : `${path}: expected ${JSON.stringify(expected)}`;
  if (expected === null || typeof expected === 'boolean') return actual === expected ? undefined : `${path}: expected ${String(expected)}`;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: expected an array of ${expected.length}`;
    for (const [index, item] of expected.entries()) {
      const problem = shapeMismatch(item, actual[index], `${path}[${index}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return `${path}: expected an object`;
  const expectedKeys = Object.keys(expected as object).sort();
  const actualKeys = Object.keys(actual).sort();
  if (expectedKeys.join(',') !== actualKeys.join(',')) return `${path}: expected keys ${expectedKeys.join(',')}, got ${actualKeys.join(',')}`;
  for (const key of expectedKeys) {
    const problem = shapeMismatch((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], `${path}.${key}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
