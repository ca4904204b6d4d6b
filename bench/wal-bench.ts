/**
 * `npm run bench:wal`: the disk's raw ceiling (one write + one fdatasync per batch of 300-byte
 * records, at batch sizes 1, 64 and 1024) next to the WAL engine driven directly on this thread,
 * fsync always, same batch sizes, 300-byte payloads: fed entries (`append`: the engine encodes and
 * checksums) and fed pre-encoded records (`appendEncoded`: as from a ring whose producer encoded
 * them); the WAL writer actor driven through its ring with pre-encoded records (wal-actor-measure.ts);
 * plus the engine without fsync to show its own CPU cost. Prints a markdown table; `--json FILE`
 * also writes the results as JSON.
 *
 * Options: --json FILE, --dir DIR (default: os.tmpdir(), which must be on the disk under test),
 * --duration-ms N per run (default 2000: 19 runs, about 45 s in all).
 *
 * Runs on: the bench process (main thread).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { boundsDefault, engineEncodedRun, engineRun, rawCeilingRun, resultsTable, type BatchResult, type RunBounds } from './wal-measure.js';
import { walActorRun } from './wal-actor-measure.js';

const batchSizes = [1, 64, 1024] as const;
const recordBytes = 300;
const rounds = 2;
const durationMsDefault = 2000;

function keepBetter(best: Map<string, BatchResult>, key: string, result: BatchResult): void {
  const previous = best.get(key);
  if (previous === undefined || result.recordsPerSecond > previous.recordsPerSecond) best.set(key, result);
}

function option(name: string): string | undefined {
  const position = process.argv.indexOf(name);
  return position === -1 ? undefined : process.argv[position + 1];
}

function describeDisk(dir: string): string {
  const workDevice = fs.statSync(process.cwd()).dev;
  const sameDisk = fs.statSync(dir).dev === workDevice;
  return `${dir} (${sameDisk ? 'same file system as' : 'a different file system from'} ${process.cwd()})`;
}

async function main(): Promise<void> {
  const jsonPath = option('--json');
  const durationMs = Number(option('--duration-ms') ?? durationMsDefault);
  if (!Number.isSafeInteger(durationMs) || durationMs < 100 || durationMs > 20_000) throw new Error('--duration-ms must be 100..20000');
  const bounds: RunBounds = { ...boundsDefault, durationMs };
  const dir = fs.mkdtempSync(path.join(option('--dir') ?? os.tmpdir(), 'falcon-wal-bench-'));
  const results: BatchResult[] = [];
  const ceiling = new Map<number, number>();
  try {
    console.log(`# WAL bench — ${new Date().toISOString()}`);
    console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${os.platform()} ${os.release()}`);
    console.log(`directory: ${describeDisk(dir)}; ${durationMs} ms per run, best of ${rounds} rounds (raw and engine alternating)\n`);
    // Raw and engine runs alternate, and each pair runs `rounds` times keeping the better run of
    // each: on a shared 2-core machine, load from elsewhere otherwise decides the comparison.
    const best = new Map<string, BatchResult>();
    for (let round = 0; round < rounds; round += 1) {
      for (const batchRecords of batchSizes) {
        keepBetter(best, `raw-${batchRecords}`, rawCeilingRun(dir, batchRecords, recordBytes, bounds));
        keepBetter(best, `engine-${batchRecords}`, engineRun(dir, batchRecords, recordBytes, bounds));
        keepBetter(best, `encoded-${batchRecords}`, engineEncodedRun(dir, batchRecords, recordBytes, bounds));
        keepBetter(best, `actor-${batchRecords}`, await walActorRun(dir, batchRecords, recordBytes, bounds));
        keepBetter(best, `actor4-${batchRecords}`, await walActorRun(dir, batchRecords, recordBytes, bounds, 4));
      }
    }
    for (const batchRecords of batchSizes) {
      const raw = best.get(`raw-${batchRecords}`);
      if (raw !== undefined) ceiling.set(batchRecords, raw.recordsPerSecond);
    }
    for (const kind of ['raw', 'engine', 'encoded', 'actor', 'actor4']) {
      for (const batchRecords of batchSizes) {
        const result = best.get(`${kind}-${batchRecords}`);
        if (result !== undefined) results.push(result);
      }
    }
    results.push(engineRun(dir, 64, recordBytes, bounds, 'unsafeNoFsync'));
    console.log(resultsTable(results, ceiling));
    if (jsonPath !== undefined) {
      const document = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, directory: dir, durationMs, results };
      fs.writeFileSync(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
      console.log(`\nJSON written to ${jsonPath}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
