/**
 * Attack on the snapshot sender's holds (snapshot-sender.ts): every stream holds its file from its
 * start to its end, exactly once, whatever ends it (completion, a failed read, resends run out, a
 * replacement by a stream of another snapshot, `stopAll`), and `lowestStreamedIndex` names the
 * lowest snapshot a running stream reads. Random sequences of starts, acknowledgements (right,
 * stale, of another file), WAL replies (in order, late, failed), ticks and `stopAll`, checked
 * against the holds and releases the sender sent to the WAL after every step.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { FromWal, ToWal } from '../../src/protocol/wal.js';
import { falconError } from '../../src/errors.js';
import type { SnapshotMessage } from '../../src/raft/raft-messages.js';
import { SnapshotSender } from '../../src/replication/snapshot-sender.js';

const membership = { voters: ['leader', 'f1', 'f2', 'f3'], learners: [] };
const peers = ['f1', 'f2', 'f3'];
const fileBytes = 2_500;
const checksumOf = (index: number): number => index * 7 + 1;

type Operation =
  | { kind: 'start'; peer: number; index: number; term: number }
  | { kind: 'reply'; pick: number; fail: boolean }
  | { kind: 'ack'; peer: number; heldBytes: number; complete: boolean; stale: boolean }
  | { kind: 'tick' }
  | { kind: 'stopAll' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('start' as const), peer: fc.nat(2), index: fc.constantFrom(100, 150, 200), term: fc.constantFrom(4, 5) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('reply' as const), pick: fc.nat(20), fail: fc.nat(9).map((draw) => draw < 2) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), peer: fc.nat(2), heldBytes: fc.constantFrom(0, 1_000, 2_000, fileBytes, fileBytes),
    complete: fc.boolean(), stale: fc.nat(3).map((draw) => draw === 0) }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'tick' as const }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'stopAll' as const }), weight: 1 },
);

describe('attack: the snapshot sender\'s holds', () => {
  it('holds each stream\'s file exactly once from its start to its end, whatever ends it', () => {
    const ended = { completed: 0, failed: 0, replaced: 0 };
    fc.assert(fc.property(fc.array(operation, { minLength: 1, maxLength: 80 }), (operations) => {
      const balance = new Map<number, number>();
      const reads: Array<Extract<ToWal, { type: 'readSnapshotChunk' }>> = [];
      let requestId = 0;
      let failures = 0;
      const sender = new SnapshotSender({
        id: 'leader', chunkBytes: 1_000, windowChunks: 2, resendTicks: 2, attemptsMax: 2,
        toWal: (message) => {
          if (message.type === 'holdSnapshot') balance.set(message.index, (balance.get(message.index) ?? 0) + 1);
          else if (message.type === 'releaseSnapshot') balance.set(message.index, (balance.get(message.index) ?? 0) - 1);
          else if (message.type === 'readSnapshotChunk') reads.push(message);
        },
        sendPeer: () => true, failed: () => failures++, nextRequestId: () => ++requestId,
      });
      const streamIndex = new Map<string, number>();
      for (const step of operations) {
        if (step.kind === 'start') {
          const to = peers[step.peer] as string;
          const message: SnapshotMessage = { type: 'snapshot', from: 'leader', to, term: step.term, snapshot: { index: step.index, term: 3, membership, data: new Uint8Array(0) } };
          if (streamIndex.has(to) && streamIndex.get(to) !== step.index && sender.activeStreams > 0) ended.replaced++;
          sender.start(message);
          streamIndex.set(to, step.index);
        } else if (step.kind === 'reply') {
          const read = reads.splice(step.pick % Math.max(1, reads.length), 1)[0];
          if (read === undefined) continue;
          const reply: FromWal = step.fail
            ? { type: 'walError', request: 'readSnapshotChunk', requestId: read.requestId, error: falconError('NOT_FOUND', 'gone') }
            : { type: 'snapshotChunk', requestId: read.requestId, index: read.index, part: 'file', offset: read.offset,
              bytes: new Uint8Array(Math.min(read.bytesMax, fileBytes - read.offset)), totalBytes: fileBytes, checksum: checksumOf(read.index) };
          if (reply.type === 'walError') sender.onWalError(read.requestId);
          else sender.onWalChunk(reply);
        } else if (step.kind === 'ack') {
          const from = peers[step.peer] as string;
          const index = streamIndex.get(from) ?? 100;
          sender.onAck({ type: 'snapshotChunkAck', from, to: 'leader', term: 5, index: step.stale ? index + 1 : index, fileBytes, checksum: checksumOf(index),
            heldBytes: step.heldBytes, complete: step.complete && step.heldBytes === fileBytes });
        } else if (step.kind === 'tick') {
          sender.tick();
        } else {
          sender.stopAll();
        }
        // Every running stream holds its file once; every ended one released it once.
        const held = [...balance.entries()].filter(([, count]) => count !== 0);
        for (const [index, count] of held) expect(count, `holds of ${index} after ${step.kind}`).to.be.greaterThan(0);
        const holds = held.reduce((sum, [, count]) => sum + count, 0);
        expect(holds, `holds after ${step.kind}`).to.equal(sender.activeStreams);
        const lowest = held.length === 0 ? null : Math.min(...held.map(([index]) => index));
        expect(sender.lowestStreamedIndex).to.equal(lowest);
      }
      ended.completed += sender.counters.streamsCompleted;
      ended.failed += sender.counters.streamsFailed;
      sender.stopAll();
      expect([...balance.values()].every((count) => count === 0), 'all released at the end').to.equal(true);
      expect(failures).to.equal(sender.counters.streamsFailed);
    }), { numRuns: 6_000, seed: 11 });
    for (const [how, count] of Object.entries(ended)) expect(count, `streams ${how}`).to.be.greaterThan(30);
  });
});
