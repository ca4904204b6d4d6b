/**
 * The Replicator's start-up conversation with the WAL writer: ask what is durable (the newest
 * snapshot's metadata comes with the answer; its body stays in the WAL and the replica loop
 * restores the state machine from it chunk by chunk), then read every entry after it, in bounded
 * chunks, into memory (the Raft
 * core must be able to read every entry above its applied index at once; see log-storage.ts).
 * Memory at start is therefore bounded by raft.snapshotEveryEntries/Bytes of the cluster file.
 *
 * Callbacks, not a promise: the simulator runs it too, inside one synchronous event loop.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { falconError, type FalconError } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { Snapshot } from '../log/snapshot.js';
import type { FromWal, ToWal, WalRecoveredMessage } from '../protocol/wal.js';

/** The body of the snapshot the core sees: the bytes are in the WAL. */
const bodyInWal = new Uint8Array(0);

export interface StartupState {
  readonly recovered: WalRecoveredMessage;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly LogEntry[];
}

export class ReplicatorStartup {
  private readonly send: (message: ToWal) => void;
  private readonly readBytesMax: number;
  private recovered: WalRecoveredMessage | undefined;
  private snapshot: Snapshot | null = null;
  private readonly entries: LogEntry[] = [];
  private resolve: ((state: StartupState) => void) | undefined;
  private reject: ((error: FalconError) => void) | undefined;

  /** Distinguishes this start's reads from replies still in the ring for an earlier incarnation. */
  private readonly requestId: number;

  /** `done` is called once with what was loaded, or `failed` once with why not (never both). */
  constructor(send: (message: ToWal) => void, readBytesMax: number, incarnation: number,
    done: (state: StartupState) => void, failed: (error: FalconError) => void) {
    this.send = send;
    this.readBytesMax = readBytesMax;
    this.requestId = -incarnation;
    this.resolve = done;
    this.reject = failed;
  }

  private finish(state: StartupState | FalconError): void {
    const resolve = this.resolve;
    const reject = this.reject;
    this.resolve = undefined;
    this.reject = undefined;
    if ('code' in state) reject?.(state);
    else resolve?.(state);
  }

  /** Asks the WAL what is durable; the answer starts the conversation. */
  begin(): void {
    this.send({ type: 'describe' });
  }

  onWalMessage(message: FromWal): void {
    switch (message.type) {
      case 'walRecovered':
        if (this.recovered !== undefined) return;
        this.recovered = message;
        this.snapshot = message.snapshot === null ? null : { ...message.snapshot, data: bodyInWal };
        this.readNext();
        return;
      case 'entries':
        if (message.requestId !== this.requestId) return;
        if (message.entries.length === 0) {
          this.finish(falconError('IO_ERROR', `the WAL returned no entries while ${this.recovered?.lastIndex ?? '?'} is its last index`));
          return;
        }
        this.entries.push(...message.entries);
        this.readNext();
        return;
      case 'walError':
        this.finish(falconError(message.error.code, `WAL ${message.request} at start-up: ${message.error.message}`));
        return;
      default:
        return;
    }
  }

  /** Asks for the next chunk after what is loaded, or finishes. */
  private readNext(): void {
    const recovered = this.recovered;
    if (recovered === undefined) return;
    const next = (this.entries[this.entries.length - 1]?.index ?? this.snapshot?.index ?? recovered.firstIndex - 1) + 1;
    if (next > recovered.lastIndex) {
      this.finish({ recovered, snapshot: this.snapshot, entries: this.entries });
      return;
    }
    this.send({ type: 'read', requestId: this.requestId, fromIndex: next, toIndex: recovered.lastIndex, bytesMax: this.readBytesMax });
  }
}
