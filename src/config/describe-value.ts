/**
 * How config values and field paths are written in error messages.
 *
 * A value is shown the way a person would recognise it in their file: strings quoted (so that
 * `"7102"` and `7102` differ at a glance), collections by kind, long text cut at a named bound.
 * A path is written `raft.heartbeatIntervalMs` or `nodes[1].peerPort`.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure, no I/O.
 */

/** Longer strings are cut: a message is one line, not a copy of the file. */
export const describedStringCharsMax = 40;

export function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const shown = value.length > describedStringCharsMax ? `${value.slice(0, describedStringCharsMax)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

const plainKeyPattern = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['nodes', 1, 'peerPort']` → `nodes[1].peerPort`; odd keys are quoted: `raft["a b"]`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && plainKeyPattern.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}
