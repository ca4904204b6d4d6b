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
import { assert, FalconFailure, isFalconError } from '../errors.js';
import { WriteAheadLog } from '../wal/wal.js';
import type { ActorContext, ActorRole } from './actor-context.js';
import type { LinkMessage } from '../protocol/link-message.js';
import { WalService } from './wal-service.js';
import type { WalWriterStatus } from '../runtime/node-status.js';
import type { FromWal } from '../protocol/wal.js';
import { checkToWal } from '../protocol/wal-validation.js';

export function createWalWriterRole(context: ActorContext<'walWriter'>): ActorRole {
  return new WalWriterRole(context);
}

class WalWriterRole implements ActorRole {
  private readonly context: ActorContext<'walWriter'>;
  private readonly dir: string;
  private wal: WriteAheadLog | undefined;
  private service: WalService | undefined;
  private stopped = false;

  constructor(context: ActorContext<'walWriter'>) {
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
      this.service = new WalService(wal, (message) => this.reply(message), (error) => {
        this.stopped = true;
        this.context.fail(error, 'actorFailed');
      });
      const { logger } = this.context;
      if (recovered.tornTail?.wholeRecordDropped === true) {
        logger.error({ tornTail: recovered.tornTail }, 'WAL recovery dropped a whole record that failed its checksum at the tail; this node must catch up before it votes or leads');
      } else if (recovered.tornTail !== null) {
        logger.warn({ tornTail: recovered.tornTail }, 'WAL recovery truncated a torn tail (normal after a crash)');
      }
      if (recovered.corruption !== null) logger.error({ corruption: recovered.corruption }, 'WAL corruption repaired by truncation; this node must catch up before it votes or leads');
      for (const rejected of recovered.rejectedSnapshots) logger.error(rejected, 'snapshot file failed verification and was deleted by repair; this node must catch up before it votes or leads');
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
    const request = checkToWal(message);
    // A bug on the other side of the ring: writing around it could leave a gap in the log.
    if (isFalconError(request)) assert(false, request.message);
    if (this.stopped) return;
    this.service?.handle(request);
  }

  /** Group commit: everything staged by this drain, one write + one fdatasync, then `durable`. */
  afterDrain(): void {
    if (!this.stopped) this.service?.afterDrain();
  }

  private reply(message: FromWal): void {
    this.context.send('replicator', message);
  }

  stop(): Promise<void> {
    if (!this.stopped) this.service?.afterDrain();
    this.stopped = true;
    this.wal?.close();
    return Promise.resolve();
  }

  status(): WalWriterStatus {
    const wal = this.wal;
    if (wal === undefined) return { role: 'walWriter', dir: this.dir, open: false };
    return {
      role: 'walWriter', dir: this.dir, open: true,
      firstIndex: wal.firstIndex, lastIndex: wal.lastIndex, durableLastIndex: wal.durableLastIndex,
      snapshotIndex: wal.snapshot?.index ?? 0, needsCatchUp: wal.needsCatchUp, failed: wal.failed?.message ?? null,
      ...this.service?.counters,
    };
  }
}

