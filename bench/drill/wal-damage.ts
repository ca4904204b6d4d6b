/**
 * Damage at rest in a stopped node's newest WAL segment, and what docs/wal-format.md ("Recovery")
 * says the node must do about each kind when it starts again:
 *
 * | kind         | what is done to the newest segment              | documented behaviour on restart                           |
 * |--------------|-------------------------------------------------|-----------------------------------------------------------|
 * | `truncate`   | its last record cut short (1 to length−1 bytes) | a torn tail: dropped, the node starts as usual            |
 * | `flip-last`  | a byte flipped inside its last record           | a whole record dropped: `needs-catch-up`, the node starts  |
 * |              |                                                 | catching up (`raft.catchingUp`) and leaves it once caught up|
 * | `flip-inner` | a byte flipped inside an earlier record         | corruption: it refuses to start (exit code 2, CORRUPTION in|
 * |              |                                                 | its log); started with `--repair-corruption` it cuts the   |
 * |              |                                                 | log there, catches up, then leaves the catch-up state      |
 *
 * A record is `length` (u32 LE), checksum, then `length` bytes (docs/wal-format.md, Records); the
 * segment is walked by its length fields to find the records' bounds.
 *
 * Runs on: the drill runner's process, only while the node is stopped.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBetween, type Random } from '../../src/raft/random.js';

export const walDamageKinds = ['truncate', 'flip-last', 'flip-inner'] as const;
export type WalDamageKind = (typeof walDamageKinds)[number];

export interface WalDamage {
  readonly kind: WalDamageKind;
  readonly segment: string;
  /** The byte flipped, or where the file now ends. */
  readonly offset: number;
  /** Records found in the segment before the damage. */
  readonly records: number;
}

/** The offsets at which each whole record of `bytes` starts (the walk stops at a torn tail). */
function recordStarts(bytes: Buffer): number[] {
  const starts: number[] = [];
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32LE(offset);
    if (length < 17 || offset + 8 + length > bytes.length) break;
    starts.push(offset);
    offset += 8 + length;
  }
  return starts;
}

/**
 * Damages the newest segment of `walDir` as `kind` says. Answers null when it cannot (no segment,
 * or `flip-inner` with a single record: then nothing was changed).
 */
export async function damageNewestSegment(walDir: string, kind: WalDamageKind, random: Random): Promise<WalDamage | null> {
  const segments = (await readdir(walDir)).filter((name) => name.endsWith('.seg')).sort();
  const newest = segments[segments.length - 1];
  if (newest === undefined) return null;
  const path = join(walDir, newest);
  const bytes = await readFile(path);
  const starts = recordStarts(bytes);
  const last = starts[starts.length - 1];
  if (last === undefined) return null;
  const lastEnd = last + 8 + bytes.readUInt32LE(last);
  if (kind === 'truncate') {
    // Cut inside the last record, past its header's first byte: a prefix of a record, never a whole one.
    const offset = randomBetween(random, last + 1, lastEnd - 1);
    await writeFile(path, bytes.subarray(0, offset));
    return { kind, segment: path, offset, records: starts.length };
  }
  let target = last;
  if (kind === 'flip-inner') {
    if (starts.length < 2) return null;
    target = starts[randomBetween(random, Math.max(0, starts.length - 20), starts.length - 2)] ?? 0;
  }
  const end = target + 8 + bytes.readUInt32LE(target);
  // Inside the checksummed bytes (type, term, index, payload): the checksum must catch it.
  const offset = randomBetween(random, target + 8, end - 1);
  bytes[offset] = (bytes[offset] ?? 0) ^ (1 << randomBetween(random, 0, 7));
  await writeFile(path, bytes.subarray(0, kind === 'flip-last' ? lastEnd : bytes.length));
  return { kind, segment: path, offset, records: starts.length };
}

/** What the node must do on its first start after `kind` (the table above). */
export function expectedOnRestart(kind: WalDamageKind): { refusesToStart: boolean; catchesUp: boolean } {
  return { refusesToStart: kind === 'flip-inner', catchesUp: kind !== 'truncate' };
}
