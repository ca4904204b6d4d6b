/**
 * The ordered sender over a simulated bounded ring: whatever the interleaving of sends, ring
 * consumption and room events, every accepted message reaches the ring exactly once and in send
 * order; a message that waits holds back every later one, even one that would fit; the backlog
 * keeps its bounds and refuses past them with RING_FULL, queueing nothing.
 *
 * Seeded: fast-check prints the seed and path of a failure; replay with ORDERED_SENDER_SEED=<seed>.
 *
 * Runs on: the mocha main thread.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { OrderedSender, type OrderedSenderOptions } from '../../src/ring/ordered-sender.js';

interface Message {
  readonly seq: number;
  readonly bytes: number;
}

/** A bounded ring in bytes, as simple as possible: a FIFO and a byte count; `refuseNext` fails writes on purpose. */
class SimulatedRing {
  readonly queue: Message[] = [];
  usedBytes = 0;
  refuseNext = 0;
  readonly accepted: number[] = [];
  constructor(readonly capacityBytes: number) {}
  trySend(message: Message): boolean {
    if (this.refuseNext > 0) {
      this.refuseNext -= 1;
      return false;
    }
    if (this.usedBytes + message.bytes > this.capacityBytes) return false;
    this.queue.push(message);
    this.usedBytes += message.bytes;
    this.accepted.push(message.seq);
    return true;
  }
  consume(count: number): void {
    for (let taken = 0; taken < count && this.queue.length > 0; taken += 1) this.usedBytes -= (this.queue.shift() as Message).bytes;
  }
}

function senderOver(ring: SimulatedRing, bounds: Partial<OrderedSenderOptions<Message>> = {}): OrderedSender<Message> {
  return new OrderedSender<Message>({
    trySend: (message) => ring.trySend(message),
    bytesOf: (message) => message.bytes,
    backlogMessagesMax: 1_000_000,
    backlogBytesMax: 1_000_000_000,
    link: 'a→b',
    ...bounds,
  });
}

type Step =
  | { readonly kind: 'send'; readonly bytes: number }
  | { readonly kind: 'consume'; readonly count: number }
  | { readonly kind: 'room' }
  | { readonly kind: 'refuse'; readonly count: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), bytes: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('consume' as const), count: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('room' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refuse' as const), count: fc.integer({ min: 1, max: 3 }) }) },
);

describe('ordered sender', () => {
  it('any interleaving of sends and room events delivers every accepted message exactly once, in send order, within the bounds', () => {
    const seedText = process.env.ORDERED_SENDER_SEED;
    const bounds = fc.record({ backlogMessagesMax: fc.integer({ min: 1, max: 20 }), backlogBytesMax: fc.integer({ min: 64, max: 600 }) });
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 256 }), bounds, fc.array(step, { minLength: 1, maxLength: 300 }), (capacityBytes, limits, steps) => {
        const ring = new SimulatedRing(capacityBytes);
        const sender = senderOver(ring, limits);
        const sentSeqs: number[] = [];
        let seq = 0;
        for (const current of steps) {
          if (current.kind === 'send') {
            const outcome = sender.send({ seq, bytes: current.bytes });
            if (outcome.ok) sentSeqs.push(seq);
            else expect(outcome.error.code).to.equal('RING_FULL');
            seq += 1;
          } else if (current.kind === 'consume') ring.consume(current.count);
          else if (current.kind === 'room') sender.pump();
          else ring.refuseNext = current.count;
          expect(sender.backlogMessages).to.be.at.most(limits.backlogMessagesMax);
          expect(sender.backlogBytes).to.be.at.most(limits.backlogBytesMax);
          expect(ring.accepted, 'the ring took messages in send order').to.deep.equal(sentSeqs.slice(0, ring.accepted.length));
        }
        ring.refuseNext = 0;
        // Bounded: every turn empties the ring, so the oldest waiting message (at most 64 bytes) fits.
        for (let turn = 0; turn <= limits.backlogMessagesMax && sender.backlogMessages > 0; turn += 1) {
          ring.consume(Number.POSITIVE_INFINITY);
          sender.pump();
        }
        expect(sender.backlogMessages, 'nothing left waiting').to.equal(0);
        expect(sender.backlogBytes).to.equal(0);
        expect(ring.accepted, 'every accepted message exactly once, in order').to.deep.equal(sentSeqs);
      }),
      seedText === undefined ? { numRuns: 300 } : { numRuns: 300, seed: Number(seedText) },
    );
  });

  it('sends straight into the ring while it has room and nothing waits', () => {
    const ring = new SimulatedRing(100);
    const sender = senderOver(ring);
    expect(sender.send({ seq: 0, bytes: 40 })).to.deep.equal({ ok: true, value: 'sent' });
    expect(sender.send({ seq: 1, bytes: 40 })).to.deep.equal({ ok: true, value: 'sent' });
    expect(ring.accepted).to.deep.equal([0, 1]);
    expect(sender.backlogMessages).to.equal(0);
    expect(sender.queuedCount).to.equal(0);
  });

  it('a message that waits for room holds back later ones that would fit (the WAL append order of issue 7)', () => {
    const ring = new SimulatedRing(100);
    const sender = senderOver(ring);
    sender.send({ seq: 0, bytes: 80 });
    expect(sender.send({ seq: 1, bytes: 50 })).to.deep.equal({ ok: true, value: 'queued' });
    expect(sender.send({ seq: 2, bytes: 10 }), 'fits the ring, but seq 1 waits').to.deep.equal({ ok: true, value: 'queued' });
    expect(ring.accepted).to.deep.equal([0]);
    expect(sender.pump(), 'no room yet: pumping is harmless').to.equal(0);
    ring.consume(1);
    expect(sender.pump()).to.equal(2);
    expect(ring.accepted).to.deep.equal([0, 1, 2]);
    expect(sender.queuedCount).to.equal(2);
  });

  it('refuses a send past the message bound or the byte bound with RING_FULL naming the link and the numbers, and queues nothing', () => {
    const ring = new SimulatedRing(10);
    const sender = senderOver(ring, { backlogMessagesMax: 2, backlogBytesMax: 100 });
    sender.send({ seq: 0, bytes: 10 });
    sender.send({ seq: 1, bytes: 30 });
    sender.send({ seq: 2, bytes: 30 });
    const overCount = sender.send({ seq: 3, bytes: 1 });
    expect(overCount.ok).to.equal(false);
    if (overCount.ok) return;
    expect(overCount.error.code).to.equal('RING_FULL');
    expect(overCount.error.message).to.match(/link a→b: 2 messages \(60 bytes\) already wait .* bound of 2 messages \/ 100 bytes/);
    expect(sender.backlogMessages).to.equal(2);

    const bytesRing = new SimulatedRing(10);
    const bytesSender = senderOver(bytesRing, { backlogMessagesMax: 10, backlogBytesMax: 50 });
    bytesSender.send({ seq: 0, bytes: 10 });
    bytesSender.send({ seq: 1, bytes: 30 });
    const overBytes = bytesSender.send({ seq: 2, bytes: 21 });
    expect(overBytes.ok).to.equal(false);
    expect(bytesSender.backlogBytes).to.equal(30);
    bytesRing.consume(1);
    bytesSender.pump();
    expect(bytesRing.accepted, 'the refused message never reaches the ring').to.deep.equal([0]);
  });

  it('refuses bounds that are not positive integers, naming the field', () => {
    const ring = new SimulatedRing(10);
    expect(() => senderOver(ring, { backlogMessagesMax: 0 })).to.throw(RangeError, /options.backlogMessagesMax must be a positive integer, got 0/);
    expect(() => senderOver(ring, { backlogBytesMax: 1.5 })).to.throw(RangeError, /options.backlogBytesMax/);
  });
});
