/**
 * A sim node's state machine: the production one, `new HashChainedMachine(new QueueStateMachine())`
 * (what the Replicator runs), seen through a thin wrapper that tells the checker what it needs:
 *
 * - the hash chain and the results after every entry (state machine safety, sim-checker.ts; the
 *   queue's checks, sim-queue-checks.ts, which look at the state exactly at that entry): entries
 *   are applied to the production machine one at a time, which is what its own `apply` does inside;
 * - the digest of every snapshot the loop takes (replicas at one applied index must hold
 *   byte-identical queue states, queue-oracle.ts): the snapshot is read whole at the call (both
 *   layers encode eagerly, so this is the same state) and handed on as the chunks read.
 *
 * Invariant: the chain's index equals the queue's applied index (HashChainedMachine asserts it).
 *
 * Runs on: the simulator.
 */
import { createHash } from 'node:crypto';
import type { LogEntry } from '../../src/log/log-entry.js';
import type { SnapshotReader, SnapshotWriter, StateMachine } from '../../src/log/state-machine.js';
import { QueueStateMachine } from '../../src/queue/queue-state-machine.js';
import type { EntryResults } from '../../src/queue/results.js';
import { HashChainedMachine } from '../../src/replication/hash-chained-machine.js';

/** The first 12 hex digits of the SHA-1 of a snapshot's bytes: enough to tell two states apart. */
export function snapshotDigest(chunks: readonly Uint8Array[]): string {
  const hash = createHash('sha1');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex').slice(0, 12);
}

/** Every chunk of `reader`, read now. */
function readAll(reader: SnapshotReader): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let chunk = reader.next(); chunk !== null; chunk = reader.next()) chunks.push(chunk);
  return chunks;
}

export interface QueueMachineObserver {
  /** An entry was applied; `hash` is the chain after it, `results` its results. */
  onEntry(entry: LogEntry, hash: number, results: EntryResults): void;
  /** The loop took a snapshot at `index` whose bytes digest to `digest`. */
  onSnapshotTaken(index: number, digest: string, bytes: number): void;
}

export class SimQueueMachine implements StateMachine<EntryResults> {
  readonly machine = new HashChainedMachine<EntryResults, QueueStateMachine>(new QueueStateMachine());
  private readonly observer: QueueMachineObserver;

  constructor(observer: QueueMachineObserver) {
    this.observer = observer;
  }

  get queue(): QueueStateMachine {
    return this.machine.inner;
  }

  get hash(): number {
    return this.machine.chain.hash;
  }

  get appliedIndex(): number {
    return this.machine.appliedIndex;
  }

  apply(entries: readonly LogEntry[]): readonly EntryResults[] {
    const results: EntryResults[] = [];
    for (const entry of entries) {
      const result = this.machine.apply([entry])[0] ?? [];
      results.push(result);
      this.observer.onEntry(entry, this.machine.chain.hash, result);
    }
    return results;
  }

  /**
   * The production reader, prepared in steps as the replica loop drives it (the first call always
   * asks for another turn, so that the loop's deferral of committed entries runs in every
   * simulation), then read whole once for the digest the checker compares.
   */
  snapshot(): SnapshotReader {
    const reader = this.machine.snapshot();
    let chunks: Uint8Array[] | undefined;
    let calls = 0;
    let next = 0;
    const prepare = (): boolean => {
      calls += 1;
      if (chunks !== undefined) return true;
      if (calls === 1 || reader.prepare?.() === false) return false;
      chunks = readAll(reader);
      this.observer.onSnapshotTaken(reader.index, snapshotDigest(chunks), chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
      return true;
    };
    return {
      index: reader.index,
      prepare,
      next: () => {
        while (!prepare()) { /* captured whole when the loop did not prepare it */ }
        return chunks?.[next++] ?? null;
      },
    };
  }

  /** The digest of the state as it is now (for the checker's samples; the loop is not told). */
  digest(): string {
    return snapshotDigest(readAll(this.machine.snapshot()));
  }

  beginRestore(index: number): SnapshotWriter {
    return this.machine.beginRestore(index);
  }

  compactionFloor(): number {
    return this.machine.compactionFloor();
  }
}
