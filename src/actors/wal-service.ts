/**
 * The WAL writer's request handling, over the WAL engine: one `ToWal` request in, its replies out,
 * and the group commit after each drain. The WAL writer actor (wal-writer-role.ts) feeds it from
 * its ring; the simulator (test/sim) feeds it from a simulated ring over the in-memory file
 * system, so both run the same ordering of writes, syncs and replies.
 *
 * Ordering rules: requests are handled in arrival order; appends are staged and made durable by
 * one write + one fdatasync at the end of each drain (`afterDrain`), or earlier when a request
 * that must see them durable comes behind them (truncate, hard state, snapshot, compaction,
 * describe): whatever is staged goes to disk and is reported before it. `durable` is sent only
 * after the fdatasync returned.
 *
 * Failure rules (docs/wal-format.md): an I/O error or a failed fsync puts the engine in its failed
 * state: `onFatal` is called once and nothing more is handled or reported; any other operating
 * error (a full disk) is answered with `walError` and the service goes on.
 *
 * Runs on: WAL writer thread, or the simulator.
 */
import type { FalconError, Outcome } from '../errors.js';
import type { WriteAheadLog } from '../wal/wal.js';
import type { FromWal, ToWal } from '../protocol/wal.js';
import type { WalServiceCounters } from '../runtime/node-status.js';

/** The requests about snapshots: taking one, streaming one out, receiving one, holding one. */
type SnapshotRequestType = 'beginSnapshot' | 'appendSnapshotChunk' | 'finishSnapshot' | 'installSnapshot' | 'beginIncomingSnapshot'
  | 'writeIncomingSnapshot' | 'verifyIncomingSnapshot' | 'readSnapshotChunk' | 'holdSnapshot' | 'releaseSnapshot';

export class WalService {
  private readonly wal: WriteAheadLog;
  private readonly reply: (message: FromWal) => void;
  private readonly onFatal: (error: FalconError) => void;
  private stopped = false;
  readonly counters: WalServiceCounters = { groupCommits: 0, entriesCommitted: 0, largestGroupEntries: 0, diskFullErrors: 0 };

  constructor(wal: WriteAheadLog, reply: (message: FromWal) => void, onFatal: (error: FalconError) => void) {
    this.wal = wal;
    this.reply = reply;
    this.onFatal = onFatal;
  }

  get failed(): boolean {
    return this.stopped;
  }

  /** One request of the Replicator: the log's requests here, the snapshots' in handleSnapshot. */
  handle(message: ToWal): void {
    if (this.stopped) return;
    const wal = this.wal;
    switch (message.type) {
      case 'append':
        this.check(wal.append(message.entries), message);
        return;
      case 'appendRecords': {
        const records = message.records;
        this.check(wal.appendEncoded(Buffer.from(records.buffer, records.byteOffset, records.byteLength)), message);
        return;
      }
      case 'truncate': {
        // Whatever is staged goes to disk (and is reported) before the truncation, so that every
        // `durable` the Replicator receives is about entries it sent before that truncation.
        this.groupCommit();
        const outcome = wal.truncateFrom(message.fromIndex);
        if (this.check(outcome, message)) this.reply({ type: 'truncated', lastIndex: outcome.value, lastTerm: wal.lastTerm });
        return;
      }
      case 'saveHardState': {
        // Entries staged before the hard state go to disk first: a hard state must never be
        // durable without the entries before it (its commit index would point past the log).
        this.groupCommit();
        const outcome = wal.saveHardState(message.state);
        if (this.check(outcome, message)) this.reply({ type: 'hardStateSaved', state: outcome.value });
        return;
      }
      case 'read': {
        const outcome = wal.read(message.fromIndex, message.toIndex, message.bytesMax);
        if (this.check(outcome, message)) this.reply({ type: 'entries', requestId: message.requestId, entries: outcome.value });
        return;
      }
      case 'compact': {
        this.groupCommit();
        const outcome = wal.compact(message.uptoIndex);
        if (this.check(outcome, message)) this.reply({ type: 'compacted', firstIndex: wal.firstIndex, segmentsRemoved: outcome.value });
        return;
      }
      case 'describe':
        this.describe();
        return;
      case 'markNeedsCatchUp': {
        const outcome = wal.markNeedsCatchUp(message.reason);
        if (this.check(outcome, message)) this.reply({ type: 'needsCatchUpMarked', reason: outcome.value });
        return;
      }
      case 'clearNeedsCatchUp': {
        const outcome = wal.clearNeedsCatchUp();
        if (this.check(outcome, message)) this.reply({ type: 'needsCatchUpCleared' });
        return;
      }
      default:
        this.handleSnapshot(message);
    }
  }

  /** Taking, streaming and installing snapshots (what handle leaves). */
  private handleSnapshot(message: Extract<ToWal, { type: SnapshotRequestType }>): void {
    const wal = this.wal;
    switch (message.type) {
      case 'beginSnapshot': {
        this.groupCommit();
        this.check(wal.beginSnapshot(message.snapshot), message);
        return;
      }
      case 'appendSnapshotChunk': {
        const outcome = wal.appendSnapshotChunk(message.index, message.bytes);
        if (this.check(outcome, message)) this.reply({ type: 'snapshotChunkAppended', index: message.index, dataBytes: outcome.value });
        return;
      }
      case 'finishSnapshot':
      case 'installSnapshot': {
        // Entries staged before the snapshot go to disk first, so that the log it may keep is durable.
        this.groupCommit();
        const outcome = message.type === 'finishSnapshot' ? wal.finishSnapshot(message.index) : wal.installIncomingSnapshot(message.index, message.term);
        if (this.check(outcome, message)) this.reply({ type: 'snapshotSaved', snapshot: outcome.value });
        return;
      }
      case 'beginIncomingSnapshot': {
        const outcome = wal.beginIncomingSnapshot(message.index, message.fileBytes, message.checksum);
        if (this.check(outcome, message)) this.reply({ type: 'incomingSnapshotHeld', index: message.index, heldBytes: outcome.value });
        return;
      }
      case 'writeIncomingSnapshot': {
        const outcome = wal.writeIncomingSnapshot(message.index, message.offset, message.bytes);
        if (this.check(outcome, message)) this.reply({ type: 'incomingSnapshotHeld', index: message.index, heldBytes: outcome.value });
        return;
      }
      case 'verifyIncomingSnapshot': {
        const outcome = wal.verifyIncomingSnapshot(message.index);
        if (this.check(outcome, message)) this.reply({ type: 'incomingSnapshotVerified', snapshot: outcome.value });
        return;
      }
      case 'readSnapshotChunk': {
        const { requestId, index, part, offset } = message;
        const outcome = wal.readSnapshotChunk(index, part, offset, message.bytesMax);
        if (this.check(outcome, message)) this.reply({ type: 'snapshotChunk', requestId, index, part, offset, ...outcome.value });
        return;
      }
      case 'holdSnapshot':
        wal.holdSnapshot(message.index);
        return;
      case 'releaseSnapshot':
        this.check(wal.releaseSnapshot(message.index), message);
        return;
    }
  }

  /** After a (re)start of the Replicator: what the log holds, with every snapshot hold dropped. */
  private describe(): void {
    const wal = this.wal;
    this.groupCommit();
    // A file left by a failed delete goes with the next snapshot or the next open: only a fatal
    // error stops here.
    const released = wal.releaseAllSnapshots();
    if (!released.ok && wal.failed !== null) {
      this.check(released, { type: 'describe' });
      return;
    }
    this.reply({
      type: 'walRecovered', firstIndex: wal.firstIndex, lastIndex: wal.lastIndex, lastTerm: wal.lastTerm,
      hardState: wal.hardState, snapshot: wal.snapshot, needsCatchUp: wal.needsCatchUp,
    });
  }

  /** Group commit: everything staged by this drain, one write + one fdatasync, then `durable`. */
  afterDrain(): void {
    if (!this.stopped) this.groupCommit();
  }

  private groupCommit(): void {
    const wal = this.wal;
    if (wal.lastIndex === wal.durableLastIndex) return;
    const before = wal.durableLastIndex;
    const outcome = wal.flush();
    if (!this.check(outcome, { type: 'append' })) return;
    const committed = outcome.value - before;
    this.counters.groupCommits += 1;
    this.counters.entriesCommitted += committed;
    this.counters.largestGroupEntries = Math.max(this.counters.largestGroupEntries, committed);
    this.reply({ type: 'durable', lastIndex: outcome.value, lastTerm: wal.lastTerm });
  }

  /** True on success. A fatal engine error ends the node; others go back to the Replicator. */
  private check<T>(outcome: Outcome<T>, request: { readonly type: ToWal['type']; readonly requestId?: number }): outcome is { ok: true; value: T } {
    if (outcome.ok) return true;
    const error: FalconError = outcome.error;
    if (this.wal.failed !== null) {
      this.stopped = true;
      this.onFatal(error);
      return false;
    }
    if (error.code === 'DISK_FULL') this.counters.diskFullErrors += 1;
    const requestId = request.requestId;
    this.reply({ type: 'walError', request: request.type, ...(requestId === undefined ? {} : { requestId }), error });
    return false;
  }
}
