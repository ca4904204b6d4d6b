/**
 * The WAL writer thread of a simulated node: the production WAL engine (src/wal) and its request
 * handling (WalService, the same code the WAL writer actor runs) over the node's simulated disk.
 *
 * Requests from the replica loop wait in an inbox: the ring, bounded in messages like a real one.
 * The loop's side sends through the production OrderedSender (src/ring/ordered-sender.ts), so a
 * full ring exercises the same ordering a real full ring does. When the thread is free it drains the
 * whole inbox (room appears, and the sender pumps what waited): every request is handled in order, then the group commit runs; its replies reach
 * the loop after the disk's latency (one fsync for the group; a snapshot write takes longer, and an
 * install of a leader's snapshot longer still in some seeds, so that leaders change meanwhile). While
 * it works, new requests queue for the next drain — group commit, as on a real disk.
 *
 * It also keeps the durability promise under watch: `claimed` is what the WAL has claimed durable
 * (entries by `durable`, the hard state by `hardStateSaved`, the snapshot by `snapshotSaved`),
 * updated the moment the claim is made. A truncation the loop asks for releases the claim on the
 * entries it cuts. After a crash, what the WAL recovers must hold everything claimed (simulation
 * checks it at restart), and the checker counts a committed entry only on disks that claim it.
 *
 * Runs on: the simulator.
 */
import type { FromWal, ToWal } from '../../src/protocol/wal.js';
import { WalService } from '../../src/actors/wal-service.js';
import type { FalconError } from '../../src/errors.js';
import type { HardState } from '../../src/log/hard-state.js';
import { TermIndex } from '../../src/replication/term-index.js';
import { RecordView, readOwnRecordAt } from '../../src/wal/wal-record.js';
import type { WriteAheadLog } from '../../src/wal/wal.js';
import { SimulatedKill } from './sim-file-system.js';

/** What the WAL thread needs from its node. */
export interface SimWalHost {
  nowUs(): number;
  /** Runs `run` at `atUs`, if the node's incarnation is still the current one. */
  at(atUs: number, run: () => void): void;
  /** The fsync latency of one group (µs). */
  diskLatencyUs(): number;
  /** The extra time of a drain that saves a local snapshot (µs)... */
  snapshotExtraUs(): number;
  /** ...and of one that installs a leader's snapshot (µs). */
  installExtraUs(): number;
  deliver(reply: FromWal): void;
  /** Room appeared in the inbox (the thread took what was there). */
  onRoom(): void;
  /** The process was killed inside a system call. */
  killed(): void;
  /** The engine failed for good (an I/O error): the node stops. */
  failed(error: FalconError): void;
}

/** What the WAL has claimed durable, and so must still hold after any crash. */
export class ClaimedDurable {
  terms: TermIndex;
  snapshotIndex: number;
  hardState: HardState | null;

  constructor(snapshotIndex: number, snapshotTerm: number, hardState: HardState | null) {
    this.terms = new TermIndex(snapshotIndex, snapshotTerm);
    this.snapshotIndex = snapshotIndex;
    this.hardState = hardState;
  }

  /** True when `index` with `term` is on this disk as claimed (in the log or under the snapshot). */
  holds(index: number, term: number): boolean {
    if (index <= this.snapshotIndex) return true;
    return this.terms.termAt(index) === term;
  }
}

/** A drain that writes pays the fsync latency; a read-only one only a thread hop. */
const threadHopUs = 30;
const writingRequests = new Set<ToWal['type']>(['appendRecords', 'append', 'truncate', 'saveHardState', 'beginSnapshot', 'appendSnapshotChunk',
  'finishSnapshot', 'beginIncomingSnapshot', 'writeIncomingSnapshot', 'verifyIncomingSnapshot', 'installSnapshot', 'releaseSnapshot', 'compact', 'markNeedsCatchUp',
  'clearNeedsCatchUp']);

export class SimWal {
  private readonly engine: WriteAheadLog;
  private readonly service: WalService;
  private readonly host: SimWalHost;
  private readonly inboxMessagesMax: number;
  readonly claimed: ClaimedDurable;
  private inbox: ToWal[] = [];
  private drainScheduled = false;
  /** When the drain under way (its fsync) is over; later requests wait for it. */
  private busyUntilUs = 0;
  private outbox: FromWal[] = [];
  /** Terms of entries staged since the last `durable`, in order (from the records' headers). */
  private staged: Array<[number, number]> = [];
  private readonly view = new RecordView();
  requestsHandled = 0;

  constructor(engine: WriteAheadLog, host: SimWalHost, claimed: ClaimedDurable, inboxMessagesMax: number) {
    this.engine = engine;
    this.host = host;
    this.inboxMessagesMax = inboxMessagesMax;
    this.claimed = claimed;
    this.service = new WalService(engine, (reply) => this.onReply(reply), (error) => host.failed(error));
  }

  get wal(): WriteAheadLog {
    return this.engine;
  }

  /** When the thread's current drain ends (µs; in the past when it is idle): a write drawn slow
   *  under a slow-disk fault keeps its latency after the fault ends. */
  get busyUntil(): number {
    return this.busyUntilUs;
  }

  /** A request from the loop, into the ring; false when the ring is full. */
  trySend(message: ToWal): boolean {
    if (this.inbox.length >= this.inboxMessagesMax) return false;
    this.inbox.push(message);
    this.scheduleDrain();
    return true;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    this.host.at(Math.max(this.host.nowUs() + threadHopUs, this.busyUntilUs), () => this.drain());
  }

  private drain(): void {
    this.drainScheduled = false;
    const batch = this.inbox;
    this.inbox = [];
    this.outbox = [];
    let writes = false;
    let snapshot = false;
    let install = false;
    try {
      for (const message of batch) {
        writes ||= writingRequests.has(message.type);
        snapshot ||= message.type === 'finishSnapshot';
        install ||= message.type === 'installSnapshot';
        this.beforeHandle(message);
        this.service.handle(message);
        this.requestsHandled++;
      }
      this.service.afterDrain();
    } catch (error) {
      if (!(error instanceof SimulatedKill)) throw error;
      this.host.killed();
      return;
    }
    const latencyUs = !writes ? threadHopUs
      : this.host.diskLatencyUs() + (snapshot ? this.host.snapshotExtraUs() : 0) + (install ? this.host.installExtraUs() : 0);
    this.busyUntilUs = this.host.nowUs() + latencyUs;
    // The thread took the whole inbox: the sender's backlog moves in, for the next drain.
    this.host.onRoom();
    const replies = this.outbox;
    this.outbox = [];
    if (replies.length > 0) {
      this.host.at(this.busyUntilUs, () => {
        for (const reply of replies) this.host.deliver(reply);
      });
    }
  }

  private beforeHandle(message: ToWal): void {
    if (message.type === 'finishSnapshot' || message.type === 'installSnapshot') {
      // A snapshot the log does not hold (one from a leader) supersedes the whole log: the entries
      // after it are no longer promised, as after a truncation; those before it, the snapshot covers.
      const { index, term } = message;
      if (this.claimed.terms.termAt(index) !== term && index + 1 > this.claimed.snapshotIndex && index + 1 > this.claimed.terms.firstIndex - 1) {
        if (index + 1 <= this.claimed.terms.lastIndex) this.claimed.terms.truncateFrom(Math.max(index + 1, this.claimed.terms.firstIndex));
      }
    } else if (message.type === 'truncate') {
      // From here on the entries it cuts are no longer promised.
      if (message.fromIndex <= this.claimed.terms.lastIndex && message.fromIndex > this.claimed.snapshotIndex) {
        this.claimed.terms.truncateFrom(message.fromIndex);
      }
      this.staged = this.staged.filter(([index]) => index < message.fromIndex);
    } else if (message.type === 'appendRecords') {
      const records = Buffer.from(message.records.buffer, message.records.byteOffset, message.records.byteLength);
      for (let offset = 0; offset < records.byteLength; offset += this.view.recordBytes) {
        readOwnRecordAt(records, offset, this.view);
        this.staged.push([this.view.index, this.view.term]);
      }
    }
  }

  /** Replies as the service emits them: claims are recorded at that moment. */
  private onReply(reply: FromWal): void {
    switch (reply.type) {
      case 'durable':
        this.claimEntries(reply.lastIndex);
        break;
      case 'hardStateSaved':
        this.claimed.hardState = reply.state;
        break;
      case 'snapshotSaved': {
        const { index, term } = reply.snapshot;
        if (this.claimed.terms.termAt(index) !== term) this.claimed.terms = new TermIndex(index, term);
        else this.claimed.terms.rebase(index, term);
        this.claimed.snapshotIndex = Math.max(this.claimed.snapshotIndex, index);
        this.staged = this.staged.filter(([stagedIndex]) => stagedIndex > index);
        break;
      }
      default:
        break;
    }
    this.outbox.push(reply);
  }

  private claimEntries(lastIndex: number): void {
    let used = 0;
    for (const [index, term] of this.staged) {
      if (index > lastIndex) break;
      used++;
      if (index <= this.claimed.snapshotIndex) continue;
      if (index <= this.claimed.terms.lastIndex) this.claimed.terms.truncateFrom(index);
      if (index === this.claimed.terms.lastIndex + 1) this.claimed.terms.append(index, term);
    }
    this.staged.splice(0, used);
  }
}
