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
import { readFileSync } from 'node:fs';
import { buildDrillReport, drillReportLines } from './drill-report.js';
import { historyFromJsonLines } from './history-file.js';

const usage = 'usage: node dist/bench/drill/check-history.js <history.jsonl>';

function main(argv: readonly string[]): number {
  const file = argv[0];
  if (file === undefined || argv.length > 1 || file === '--help') {
    console.error(usage);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    console.error(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const saved = historyFromJsonLines(text);
  if (!saved.ok) {
    console.error(`${file}: ${saved.error.message}`);
    return 2;
  }
  if (saved.value.final === null) console.log(`${file}: no final state (the drill stopped before its drain); checking against an empty one`);
  const report = buildDrillReport(saved.value.records, saved.value.final ?? { jobs: [] }, { seed: saved.value.seed });
  for (const line of drillReportLines(report)) console.log(line);
  return report.pass ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
