/**
 * Damage at rest to a stopped node's disk, the faults no crash produces (issue 7, points 2 and 8):
 *
 * - `corruptRecord`: one byte flipped inside a synced, complete record of the newest WAL segment
 *   (its length field untouched). At the tail, recovery drops a whole record that fails its
 *   checksum and sets the needs-catch-up marker by itself; earlier in the segment (good records
 *   after it) it is corruption and the WAL refuses to open, so the node is restarted the way an
 *   operator would, with the repair flag (sim-node.ts), which cuts the log there and sets the marker.
 * - `wipeDisk`: the data directory is empty at the next start (a replaced disk under the same node
 *   id); the node waits for its peers' handshakes and, since they hold this cluster's log, is
 *   caught up before it votes (src/replication/fresh-start.ts).
 *
 * A damaged node is *barred* while it may not vote or count toward commit: damaged and not yet
 * restarted, its WAL holding nothing (a fresh node waiting for its verdict), or the marker on its
 * disk. The bound: at most a minority of the voters are barred at any one time. Why: Raft keeps a
 * committed entry because every majority holds a node that has it on disk; damage to a majority at
 * once can remove it from all of them, and no protocol can bring it back (a legitimate loss, not a
 * bug). With a minority barred, every electing majority still holds the entry, and a barred node
 * neither votes nor counts toward commit until a leader has caught it up. A blank node (one that
 * never made a promise) counts toward the bound too: a wiped node that hears a blank majority
 * bootstraps as new (the documented limit of src/replication/fresh-start.ts).
 *
 * Invariants: the damage is applied only while the node is down; what it destroys is released
 * from the node's durability claims (a deliberate loss the checker must not count).
 *
 * Runs on: the simulator.
 */
import path from 'node:path';
import type { SeededRandom } from '../../src/raft/random.js';
import { decodeHardStateFile, hardStateFileName } from '../../src/wal/hard-state-codec.js';
import { ClaimedDurable } from './sim-wal.js';
import { parseSegmentFileName, segmentFileName } from '../../src/wal/segment.js';
import { parseSnapshotFileName } from '../../src/wal/snapshot-file.js';
import { needsCatchUpFileName } from '../../src/wal/recovery.js';
import { recordChecksummedFrom, scanRecords } from '../../src/wal/wal-record.js';
import type { SimNode } from './sim-node.js';

export const simWalDir = '/data/wal';
/** Share of record damage that hits a record before the newest segment's last one (the repair path). */
const damageBeforeTailShare = 0.25;
const recordBytesMax = 0x7fff_ffff;

/** True while `node` may not vote or count toward commit because of damage at rest (see above). */
export function isBarred(node: SimNode): boolean {
  if (node.damagePending) return true;
  const disk = node.disk;
  if (!disk.exists(simWalDir)) return true;
  const names = disk.listDirectory(simWalDir);
  if (names.includes(needsCatchUpFileName)) return true;
  return !names.some((name) => name === hardStateFileName || parseSegmentFileName(name) !== null || parseSnapshotFileName(name) !== null);
}

/**
 * True when `node` holds none of the cluster's state: barred, or blank (term 0, no log, no
 * snapshot: it never voted nor acknowledged anything, e.g. a node cut off since the cluster began).
 * Why blank counts: a wiped node that hears a blank majority bootstraps as a member of a new
 * cluster (fresh-start.ts); the rule is safe only while at most a minority lacks the state.
 */
function lacksState(node: SimNode): boolean {
  if (isBarred(node)) return true;
  const names = node.disk.listDirectory(simWalDir);
  if (names.some((name) => parseSegmentFileName(name) !== null || parseSnapshotFileName(name) !== null)) return false;
  if (!names.includes(hardStateFileName)) return true;
  const hardState = decodeHardStateFile(node.disk.readFile(path.join(simWalDir, hardStateFileName)));
  return typeof hardState !== 'string' && hardState.state.term === 0;
}

/** True when damaging `node` (down, or about to be stopped) keeps the nodes that lack the
 *  cluster's state (barred or blank) a minority. */
export function mayDamage(nodes: readonly SimNode[], node: SimNode): boolean {
  const lacking = nodes.filter((other) => other !== node && lacksState(other)).length + 1;
  return lacking <= Math.floor((nodes.length - 1) / 2);
}

/**
 * Flips one byte inside a synced, complete record of the stopped `node`'s newest segment; returns
 * a description, or null when there is no such record (no segment, or unsynced bytes at the end).
 */
export function corruptRecord(node: SimNode, random: SeededRandom): string | null {
  const disk = node.disk;
  if (!disk.exists(simWalDir)) return null;
  let newest = -1;
  for (const name of disk.listDirectory(simWalDir)) newest = Math.max(newest, parseSegmentFileName(name) ?? -1);
  if (newest < 0) return null;
  const filePath = path.join(simWalDir, segmentFileName(newest));
  if (!disk.isSynced(filePath)) return null;
  const bytes = disk.readFile(filePath);
  const records: Array<{ offset: number; bytes: number; index: number }> = [];
  const scan = scanRecords(bytes, 0, bytes.length, { expectedFirstIndex: newest, previousTerm: 0, recordBytesMax },
    (view) => records.push({ offset: view.offset, bytes: view.recordBytes, index: view.index }));
  const tail = records.at(-1);
  if (scan.failure !== null || tail === undefined) return null;
  const target = records.length > 1 && random.chance(damageBeforeTailShare) ? (records[random.below(records.length - 1)] ?? tail) : tail;
  // Inside the checksummed part (type, term, index, payload): CRC-32 catches any one-byte change.
  const offset = target.offset + recordChecksummedFrom + random.below(target.bytes - recordChecksummedFrom);
  disk.flipByte(filePath, offset, random.between(1, 255));
  node.damagePending = true;
  releaseClaimsFrom(node.claimed, target.index);
  return `record ${target.index}${target === tail ? ' (the tail)' : ''} of ${path.basename(filePath)} at byte ${offset}`;
}

/** Empties the stopped `node`'s disk: it forgets its log, its snapshot, its vote and its term. */
export function wipeDisk(node: SimNode): void {
  node.disk.wipe();
  node.claimed = new ClaimedDurable(0, 0, null);
  // Whatever damage it held went with the disk (the empty directory bars it now).
  node.damagePending = false;
}

/** The damage destroyed what the WAL claimed from `index` on (recovery drops the damaged record
 *  and every one after it; a snapshot covers those below its own index): no longer promised. */
function releaseClaimsFrom(claimed: ClaimedDurable, index: number): void {
  const from = Math.max(index, claimed.snapshotIndex + 1, claimed.terms.firstIndex);
  if (from <= claimed.terms.lastIndex) claimed.terms.truncateFrom(from);
}
