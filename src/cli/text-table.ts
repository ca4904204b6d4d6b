/**
 * Aligned text tables and short human figures (ages, sizes) for the `falcon` CLI's terminal
 * output. Numbers are right-aligned, text left-aligned; a cell is never cut (a long queue name
 * widens its column). Columns are separated by two spaces; no trailing blanks.
 *
 * Runs on: an operator's shell (the falcon process).
 */

export type Cell = string | number | boolean | null | undefined;

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '-';
  if (typeof cell === 'boolean') return cell ? 'yes' : 'no';
  return String(cell);
}

/** `header` and `rows` as aligned lines (the header first), numbers right-aligned. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const texts = rows.map((row) => header.map((_, column) => cellText(row[column])));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number' || row[column] === null || row[column] === undefined));
  const widths = header.map((title, column) => Math.max(title.length, ...texts.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells
    .map((cell, column) => (numeric[column] === true ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
    .join('  ')
    .trimEnd();
  return [line(header), ...texts.map(line)].join('\n');
}

/** `key: value` lines with the keys aligned. */
export function formatFields(fields: ReadonlyArray<readonly [string, Cell]>): string {
  const width = Math.max(0, ...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${cellText(value)}`).join('\n');
}

/** A duration for people: `850ms`, `12.3s`, `4m05s`, `3h12m`, `2d04h`. */
export function formatAgeMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86_400)}d${String(Math.floor(seconds / 3600) % 24).padStart(2, '0')}h`;
}

/** A leader-stamped time as ISO 8601 (UTC). */
export function formatTimeMs(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '-';
}
