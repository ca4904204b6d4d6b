/**
 * A state machine with the applied hash chain (applied-hash-chain.ts) folded in: every entry
 * applied to the inner machine (the queue) is also folded into the chain, so that tests, drills
 * and /status can compare what replicas applied with one number per index, whatever the inner
 * machine is.
 *
 * Snapshot body: the chain's 16 bytes (index, hash), then the inner machine's body. A restore
 * reads the first 16 bytes into the chain, whatever the chunking, and streams the rest into the
 * inner machine.
 *
 * Invariant: the chain's index equals the inner machine's applied index after every apply and
 * every restore.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { assert } from '../errors.js';
import type { LogEntry } from '../log/log-entry.js';
import type { SnapshotReader, SnapshotWriter, StateMachine } from '../log/state-machine.js';
import { AppliedHashChain } from './applied-hash-chain.js';

/** Bytes of the chain's part of the snapshot body. */
const chainBytes = 16;

export class HashChainedMachine<Result, Inner extends StateMachine<Result> = StateMachine<Result>> implements StateMachine<Result> {
  readonly chain = new AppliedHashChain();
  readonly inner: Inner;

  constructor(inner: Inner) {
    this.inner = inner;
    this.chain.index = inner.appliedIndex;
  }

  get appliedIndex(): number {
    return this.inner.appliedIndex;
  }

  apply(entries: readonly LogEntry[]): readonly Result[] {
    const results = this.inner.apply(entries);
    for (const entry of entries) this.chain.applyOne(entry);
    assert(this.chain.index === this.inner.appliedIndex, `hash chain at ${this.chain.index}, state machine at ${this.inner.appliedIndex}`);
    return results;
  }

  snapshot(): SnapshotReader {
    const head = this.chain.encode();
    const body = this.inner.snapshot();
    assert(body.index === this.chain.index, `snapshot of the state machine at ${body.index}, hash chain at ${this.chain.index}`);
    let headSent = false;
    const prepare = body.prepare === undefined ? undefined : (): boolean => body.prepare?.() ?? true;
    return {
      index: body.index,
      ...(prepare === undefined ? {} : { prepare }),
      next: () => {
        if (headSent) return body.next();
        headSent = true;
        return head;
      },
    };
  }

  beginRestore(index: number): SnapshotWriter {
    const head = new Uint8Array(chainBytes);
    let headBytes = 0;
    const inner = this.inner.beginRestore(index);
    return {
      write: (chunk) => {
        let rest = chunk;
        if (headBytes < chainBytes) {
          const taken = Math.min(chainBytes - headBytes, rest.byteLength);
          head.set(rest.subarray(0, taken), headBytes);
          headBytes += taken;
          rest = rest.subarray(taken);
        }
        if (rest.byteLength > 0) inner.write(rest);
      },
      finish: () => {
        assert(headBytes === chainBytes, `snapshot at ${index} is ${headBytes} bytes long, shorter than its hash chain part`);
        const chain = AppliedHashChain.fromSnapshot({ index, data: head });
        inner.finish();
        this.chain.index = chain.index;
        this.chain.hash = chain.hash;
        assert(this.inner.appliedIndex === index, `state machine restored to ${this.inner.appliedIndex}, snapshot at ${index}`);
      },
    };
  }

  compactionFloor(): number {
    return this.inner.compactionFloor();
  }
}
