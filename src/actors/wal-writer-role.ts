/**
 * The WAL writer role: drains its ring from the Replicator into the WAL engine, with one write and
 * one fdatasync per drained batch (group commit), and reports the durable index back only after
 * that fdatasync returned.
 *
 * Failure rules (docs/wal-format.md): a corrupt log at start refuses the start (exit 2) naming
 * file, offset and index; an I/O error or a failed fsync stops the node (exit 3) and nothing more
 * is reported durable; a full disk is reported to the Replicator as DISK_FULL and the node goes
 * on serving what is durable while refusing new writes.
 *
 * Replies are never dropped nor reordered: they go through the link's ordered send
 * (ActorContext.send), which keeps them in its bounded backlog while the Replicator's ring is full.
 *
 * Runs on: WAL writer thread.
 */
import { join } from 'node:path';
import { FalconFailure, type FalconError } from '../errors.js';
import { WriteAheadLog } from '../wal/wal.js';
import type { WalOutcome } from '../wal/wal-outcome.js';
import type { ActorContext, ActorRole } from './actor-context.js';
import type { LinkMessage } from './actor-messages.js';
import { isToWal, type FromWal, type ToWal } from './wal-protocol.js';

export function createWalWriterRole(context: ActorContext): ActorRole {
  return new WalWriterRole(context);
}

class WalWriterRole implements ActorRole {
  private readonly context: ActorContext;
  private readonly dir: string;
  private wal: WriteAheadLog | undefined;
  private stopped = false;
  private readonly counters = { groupCommits: 0, entriesCommitted: 0, largestGroupEntries: 0, diskFullErrors: 0 };

  constructor(context: ActorContext) {
    this.context = context;
    this.dir = join(context.node.dataDir, 'wal');
  }

  start(): Promise<void> {
    const { wal: settings } = this.context.config;
    try {
      const { wal, recovered } = WriteAheadLog.open(this.dir, {
        segmentBytes: settings.segmentBytes,
        fsync: settings.fsync,
        tailCacheEntries: settings.tailCacheEntries,
        repairCorruption: settings.repairCorruption,
      });
      this.wal = wal;
      const { logger } = this.context;
      if (recovered.tornTail !== null) logger.warn({ tornTail: recovered.tornTail }, 'WAL recovery truncated a torn tail (normal after a crash)');
      if (recovered.corruption !== null) logger.error({ corruption: recovered.corruption }, 'WAL corruption repaired by truncation; this node must catch up before it votes or leads');
      for (const rejected of recovered.rejectedSnapshots) logger.warn(rejected, 'snapshot file failed verification and was skipped');
      logger.info({ dir: this.dir, firstIndex: recovered.firstIndex, lastIndex: recovered.lastIndex, lastTerm: recovered.lastTerm }, 'WAL recovered');
      this.reply({ type: 'walStarted', incarnation: this.context.incarnation });
    } catch (error) {
      if (!(error instanceof FalconFailure)) throw error;
      this.context.fail(error.error, 'refusedToStart');
      return new Promise(() => undefined); // never ready: the node is stopping
    }
    return Promise.resolve();
  }

  onMessage(_from: string, message: LinkMessage): void {
    if (!isToWal(message)) {
      this.context.logger.error({ type: message.type }, 'unknown message on the WAL ring; dropped');
      return;
    }
    const wal = this.wal;
    if (wal === undefined || this.stopped) return;
    this.handle(wal, message);
  }

  private handle(wal: WriteAheadLog, message: ToWal): void {
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
        this.groupCommit(wal);
        const outcome = wal.truncateFrom(message.fromIndex);
        if (this.check(outcome, message)) this.reply({ type: 'truncated', lastIndex: outcome.value, lastTerm: wal.lastTerm });
        return;
      }
      case 'saveHardState': {
        // Entries staged before the hard state go to disk first: a hard state must never be
        // durable without the entries before it (its commit index would point past the log).
        this.groupCommit(wal);
        const outcome = wal.saveHardState(message.state);
        if (this.check(outcome, message)) this.reply({ type: 'hardStateSaved', state: outcome.value });
        return;
      }
      case 'read': {
        const outcome = wal.read(message.fromIndex, message.toIndex, message.maxBytes);
        if (this.check(outcome, message)) this.reply({ type: 'entries', requestId: message.requestId, entries: outcome.value });
        return;
      }
      case 'saveSnapshot': {
        this.groupCommit(wal);
        const outcome = wal.saveSnapshot(message.snapshot);
        if (this.check(outcome, message)) this.reply({ type: 'snapshotSaved', snapshot: outcome.value });
        return;
      }
      case 'loadSnapshot': {
        const outcome = wal.loadLatestSnapshot();
        if (this.check(outcome, message)) this.reply({ type: 'snapshotLoaded', requestId: message.requestId, snapshot: outcome.value });
        return;
      }
      case 'compact': {
        this.groupCommit(wal);
        const outcome = wal.compact(message.uptoIndex);
        if (this.check(outcome, message)) this.reply({ type: 'compacted', firstIndex: wal.firstIndex, segmentsRemoved: outcome.value });
        return;
      }
      case 'describe': {
        this.groupCommit(wal);
        this.reply({
          type: 'walRecovered', firstIndex: wal.firstIndex, lastIndex: wal.lastIndex, lastTerm: wal.lastTerm,
          hardState: wal.hardState, snapshot: wal.snapshot, needsCatchUp: wal.needsCatchUp,
        });
        return;
      }
      case 'clearNeedsCatchUp': {
        const outcome = wal.clearNeedsCatchUp();
        if (this.check(outcome, message)) this.reply({ type: 'needsCatchUpCleared' });
        return;
      }
    }
  }

  /** Group commit: everything staged by this drain, one write + one fdatasync, then `durable`. */
  afterDrain(): void {
    if (this.wal !== undefined && !this.stopped) this.groupCommit(this.wal);
  }

  private groupCommit(wal: WriteAheadLog): void {
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
  private check<T>(outcome: WalOutcome<T>, request: { readonly type: ToWal['type']; readonly requestId?: number }): outcome is { ok: true; value: T } {
    if (outcome.ok) return true;
    const error: FalconError = outcome.error;
    if (this.wal?.failed !== null && this.wal?.failed !== undefined) {
      this.stopped = true;
      this.context.fail(error, 'actorFailed');
      return false;
    }
    if (error.code === 'DISK_FULL') this.counters.diskFullErrors += 1;
    const requestId = request.requestId;
    this.reply({ type: 'walError', request: request.type, ...(requestId === undefined ? {} : { requestId }), error });
    return false;
  }

  private reply(message: FromWal): void {
    this.context.send('replicator', message as unknown as LinkMessage);
  }

  stop(): Promise<void> {
    if (this.wal !== undefined && !this.stopped) this.groupCommit(this.wal);
    this.stopped = true;
    this.wal?.close();
    return Promise.resolve();
  }

  status(): Readonly<Record<string, unknown>> {
    const wal = this.wal;
    if (wal === undefined) return { role: 'walWriter', dir: this.dir, open: false };
    return {
      role: 'walWriter', dir: this.dir, open: true,
      firstIndex: wal.firstIndex, lastIndex: wal.lastIndex, durableLastIndex: wal.durableLastIndex,
      snapshotIndex: wal.snapshot?.index ?? 0, needsCatchUp: wal.needsCatchUp, failed: wal.failed?.message ?? null,
      ...this.counters,
    };
  }
}

