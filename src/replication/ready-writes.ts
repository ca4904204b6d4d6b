/**
 * The write half of the replica loop's Ready cycle: what a Ready asks to persist goes to the WAL,
 * and is tracked until the WAL says it is durable; then the log view is updated, the core told,
 * and the messages that waited for it (votes, append acks) leave.
 *
 * One Ready is one write, in this order: the snapshot (put in force: its body is already durable
 * in the WAL's incoming file, snapshot-receiver.ts), a truncation when the entries overwrite the
 * log's tail, the entries as pre-encoded records, and the hard state when term or vote changed.
 * The hard state is not written for every new commit index: commit is not needed for safety (a
 * restarted node learns it from the leader), and persisting it for every batch would add a file
 * rename and two fsyncs to every commit.
 *
 * The WAL answers `snapshotSaved` both for a leader's snapshot put in force here and for a local
 * snapshot finished (local-snapshots.ts); `snapshotSaves` keeps their order, so that each answer
 * goes to the one that asked.
 *
 * Invariants: writes complete in the order they were sent (durability-tracker.ts); at most
 * `writesInFlightMax` wait for the WAL; `walLastIndex` is the last index sent to the WAL;
 * `persisted` is the term and vote last sent. Per entry: no closure and no allocation besides the
 * records themselves.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { assert } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { LogEntry } from '../log/log-entry.js';
import type { RaftNode } from '../raft/raft-node.js';
import type { Ready } from '../raft/ready.js';
import { encodeRecords, recordBytesFor } from '../wal/wal-record.js';
import { DurabilityTracker } from './durability-tracker.js';
import type { ReplicaHost, ReplicaObserver } from './replica-loop-options.js';
import type { ReplicatorLogStorage } from './replicator-log-storage.js';
import type { PeerMessage } from './snapshot-stream-messages.js';

/** Writes waiting for the WAL; the core bounds its own writes in flight the same way. */
const writesInFlightMax = 65_536;

/** Who asked for a snapshot save the WAL will answer: a Ready (a leader's snapshot) or a local snapshot. */
export type SnapshotSavePurpose = 'ready' | 'taken';

export interface ReadyWritesOptions {
  /** The WAL link, called directly: one call per request, as the loop itself would. */
  readonly host: Pick<ReplicaHost, 'toWal'>;
  /** Bytes of records per WAL request (bounded by the ring's message bound). */
  readonly walRequestBytesMax: number;
  /** Written into every hard state as the data directory's identity (fresh-start.ts); omitted: none. */
  readonly clusterName: string | undefined;
  readonly observer: ReplicaObserver | undefined;
  /** The loop's counters: one more WAL write per Ready with entries. */
  readonly counters: { walWrites: number };
  /** The core installs only a snapshot whose body the receiver holds, verified (snapshot-receiver.ts). */
  readonly holdsVerified: (index: number, term: number) => boolean;
  /** Sends a message the core released once its write was durable. */
  readonly sendToPeer: (message: PeerMessage) => boolean;
}

export class ReadyWrites {
  private readonly options: ReadyWritesOptions;
  private readonly host: Pick<ReplicaHost, 'toWal'>;
  private readonly tracker = new DurabilityTracker(writesInFlightMax);
  /** Snapshot saves sent and not yet answered, in the order the WAL answers them. */
  private readonly snapshotSaves: SnapshotSavePurpose[] = [];
  private core: RaftNode | undefined;
  private storage: ReplicatorLogStorage | undefined;
  private persistedValue: HardState = { term: 0, vote: null, commit: 0 };
  private walLastIndexValue = 0;

  constructor(options: ReadyWritesOptions) {
    this.options = options;
    this.host = options.host;
  }

  /** The hard state last sent to the WAL (or found there at start). */
  get persisted(): HardState {
    return this.persistedValue;
  }

  /** The last index sent to the WAL (or found there at start). */
  get walLastIndex(): number {
    return this.walLastIndexValue;
  }

  /** Writes sent and not yet durable. */
  get size(): number {
    return this.tracker.size;
  }

  /** The core is built over `storage`: from now on, Readies are written and completed. */
  begin(core: RaftNode, storage: ReplicatorLogStorage, persisted: HardState, walLastIndex: number): void {
    this.core = core;
    this.storage = storage;
    this.persistedValue = persisted;
    this.walLastIndexValue = walLastIndex;
  }

  /** Sends what `ready` asks to persist and tracks it; completes at once when it asks for nothing. */
  write(ready: Ready): void {
    const { entries, snapshot } = ready;
    const persisted = this.persistedValue;
    const hardState = ready.hardState !== null && (ready.hardState.term !== persisted.term || ready.hardState.vote !== persisted.vote);
    if (snapshot !== null) {
      // The body is already durable in the WAL's incoming file (snapshot-receiver.ts): persisting
      // it is putting that file in force.
      assert(this.options.holdsVerified(snapshot.index, snapshot.term), `the core installs snapshot (${snapshot.index}, ${snapshot.term}) that was not received`);
      this.snapshotSaves.push('ready');
      this.host.toWal({ type: 'installSnapshot', index: snapshot.index, term: snapshot.term });
      this.walLastIndexValue = Math.max(this.walLastIndexValue, snapshot.index);
    }
    const first = entries[0];
    if (first !== undefined) {
      if (first.index <= this.walLastIndexValue) {
        this.tracker.truncationSent();
        this.host.toWal({ type: 'truncate', fromIndex: first.index });
      }
      this.sendRecords(entries);
      const last = entries[entries.length - 1] as LogEntry;
      this.options.observer?.onWalWrite?.(entries.length, last.index);
      this.walLastIndexValue = last.index;
      this.options.counters.walWrites += 1;
    }
    if (hardState && ready.hardState !== null) {
      this.persistedValue = ready.hardState;
      const clusterName = this.options.clusterName;
      this.host.toWal({ type: 'saveHardState', state: clusterName === undefined ? ready.hardState : { ...ready.hardState, cluster: clusterName } });
    }
    this.tracker.add({ entries, snapshot, hardState, messagesAfterDurable: ready.messagesAfterDurable });
    if (first === undefined && !hardState && snapshot === null) this.completeWrites();
  }

  /**
   * Entries as pre-encoded WAL records, in as many requests as their size needs (one ring message
   * carries at most half the ring): the WAL stages them all and commits them as a group.
   */
  private sendRecords(entries: readonly LogEntry[]): void {
    const chunkBytesMax = this.options.walRequestBytesMax;
    let start = 0;
    let bytes = 0;
    for (let position = 0; position < entries.length; position += 1) {
      const entryBytes = recordBytesFor(entries[position]?.data.byteLength ?? 0);
      if (position > start && bytes + entryBytes > chunkBytesMax) {
        this.host.toWal({ type: 'appendRecords', records: encodeRecords(entries.slice(start, position)) });
        start = position;
        bytes = 0;
      }
      bytes += entryBytes;
    }
    this.host.toWal({ type: 'appendRecords', records: encodeRecords(start === 0 ? entries : entries.slice(start)) });
  }

  // ---- the WAL's answers ----------------------------------------------------------------------

  onDurable(lastIndex: number): void {
    this.tracker.onDurable(lastIndex);
    this.completeWrites();
  }

  onTruncated(): void {
    this.tracker.onTruncated();
  }

  onHardStateSaved(): void {
    this.tracker.onHardStateSaved();
    this.completeWrites();
  }

  /** A local snapshot's `finishSnapshot` is on its way to the WAL: its `snapshotSaved` comes in turn. */
  expectTakenSnapshotSaved(): void {
    this.snapshotSaves.push('taken');
  }

  /**
   * The WAL saved a snapshot: a leader's one put in force completes its write here (true); a local
   * one is the caller's (false).
   */
  onSnapshotSaved(): boolean {
    if (this.snapshotSaves.shift() !== 'ready') return false;
    this.tracker.onSnapshotSaved();
    this.completeWrites();
    return true;
  }

  /** A snapshot save failed: whose it was (undefined when none was waiting). */
  onSnapshotSaveFailed(): SnapshotSavePurpose | undefined {
    return this.snapshotSaves.shift();
  }

  /** Writes the WAL made durable, in order: update the log view, tell the core, release messages. */
  private completeWrites(): void {
    const core = this.core;
    const storage = this.storage;
    if (core === undefined || storage === undefined) return;
    for (const write of this.tracker.takeCompleted()) {
      if (write.snapshot !== null) storage.onSnapshotDurable(write.snapshot);
      storage.appendDurable(write.entries);
      const last = write.entries[write.entries.length - 1];
      if (last !== undefined) core.onDurable({ lastIndex: last.index, term: last.term });
      else if (write.snapshot !== null) core.onDurable({ lastIndex: write.snapshot.index, term: write.snapshot.term });
      for (const message of write.messagesAfterDurable) this.options.sendToPeer(message);
    }
  }
}
