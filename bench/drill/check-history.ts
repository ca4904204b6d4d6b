/**
 * Checks a saved drill history again, offline: `node dist/bench/drill/check-history.js <file>`.
 * Prints the drill's report (drill-report.ts), its JSON line last, and exits 0 when every check
 * passes, 1 on any violation, 2 when the file cannot be read as a drill history.
 *
 * A file without a final line (the drill stopped before its drain) is checked against an empty
 * final state: acknowledged jobs then count as lost unless an accepted ack completed them.
 *
 * Runs on: its own process (a command line tool).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { buildDrillReport, drillReportLines } from './drill-report.js';
import { HistoryLinesReader, type SavedHistory } from './history-file.js';

const usage = 'usage: node dist/bench/drill/check-history.js <history.jsonl>';

/** The file's history, or a message saying why it cannot be read. */
async function readHistory(file: string): Promise<SavedHistory | string> {
  const reader = new HistoryLinesReader();
  try {
    for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY })) {
      if (!reader.read(line).ok) break;
    }
  } catch (error) {
    return `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const saved = reader.finish();
  return saved.ok ? saved.value : `${file}: ${saved.error.message}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const file = argv[0];
  if (file === undefined || argv.length > 1 || file === '--help') {
    console.error(usage);
    return 2;
  }
  const saved = await readHistory(file);
  if (typeof saved === 'string') {
    console.error(saved);
    return 2;
  }
  if (saved.final === null) console.log(`${file}: no final state (the drill stopped before its drain); checking against an empty one`);
  const report = buildDrillReport(saved.records, saved.final ?? { jobs: [] }, { seed: saved.seed });
  for (const line of drillReportLines(report)) console.log(line);
  return report.pass ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
