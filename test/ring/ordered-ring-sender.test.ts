/**
 * The ordered sender over a real SPSC ring: messages sent while the ring is full wait in the
 * backlog and reach the receiver in send order once it drains, woken by the ring's own wake-up for
 * room (no timer); a backlog past its bound throws RING_FULL naming the link.
 *
 * Runs on: the mocha main thread (both ends of the ring; the waker sleeps with Atomics.waitAsync).
 */
import { expect } from 'chai';
import { FalconFailure } from '../../src/errors.js';
import { OrderedRingSender } from '../../src/ring/ordered-ring-sender.js';
import { RingReceiver } from '../../src/ring/ring-channel.js';
import { createRingBuffer } from '../../src/ring/spsc-ring.js';

const WAIT_BOUND_MS = 10_000;

interface Numbered {
  readonly seq: number;
  readonly filler: string;
}

function numbered(seq: number): Numbered {
  return { seq, filler: 'x'.repeat((seq * 7) % 60) };
}

/** Yields event-loop turns until `done()` holds; fails after `timeoutMs` saying what it waited for. */
async function turnsUntil(done: () => boolean, what: string, timeoutMs = WAIT_BOUND_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('ordered ring sender', () => {
  it('messages sent while the ring is full arrive after the earlier ones, in send order, once the receiver drains', async () => {
    const buffer = createRingBuffer(256);
    const sender = new OrderedRingSender<Numbered>(buffer, { link: 'a→b' });
    const receiver = new RingReceiver<Numbered>(buffer);
    const received: number[] = [];
    const straight: boolean[] = [];
    for (let seq = 0; seq < 200; seq += 1) straight.push(sender.send(numbered(seq)));
    expect(straight[0], 'the first message went straight in').to.equal(true);
    expect(straight.indexOf(false), 'the ring filled').to.be.greaterThan(0);
    const firstQueued = straight.indexOf(false);
    expect(straight.slice(firstQueued).every((went) => !went), 'after the first wait, every later send waits too').to.equal(true);
    expect(sender.backlog().messages).to.equal(200 - firstQueued);
    // Only the receiver's drain frees room; the sender's waker moves the backlog in as it does.
    await turnsUntil(() => {
      receiver.receiveAll((message) => received.push(message.seq));
      return received.length === 200;
    }, 'all 200 messages received');
    expect(received).to.deep.equal(Array.from({ length: 200 }, (_, seq) => seq));
    expect(sender.backlog()).to.deep.equal({ messages: 0, bytes: 0, queuedTotal: 200 - firstQueued });
    sender.close();
  });

  it('keeps order when sends keep coming while the backlog drains', async () => {
    const buffer = createRingBuffer(256);
    const sender = new OrderedRingSender<Numbered>(buffer, { link: 'a→b' });
    const receiver = new RingReceiver<Numbered>(buffer);
    const received: number[] = [];
    let seq = 0;
    // Bounded: 50 rounds of 10 sends and one partial drain each.
    for (let round = 0; round < 50; round += 1) {
      for (let count = 0; count < 10; count += 1) sender.send(numbered(seq++));
      receiver.receiveAll((message) => received.push(message.seq), 3);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await turnsUntil(() => {
      receiver.receiveAll((message) => received.push(message.seq));
      return received.length === seq;
    }, `all ${seq} messages received`);
    expect(received).to.deep.equal(Array.from({ length: seq }, (_, index) => index));
    sender.close();
  });

  it('a backlog past its bound throws RING_FULL naming the link, rather than drop or reorder', () => {
    const buffer = createRingBuffer(256);
    const sender = new OrderedRingSender<Numbered>(buffer, { link: 'replicator→walWriter', backlogMessagesMax: 3 });
    let thrown: unknown;
    try {
      for (let seq = 0; seq < 100; seq += 1) sender.send(numbered(seq));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(FalconFailure);
    const failure = thrown as FalconFailure;
    expect(failure.error.code).to.equal('RING_FULL');
    expect(failure.message).to.match(/link replicator→walWriter: 3 messages .* bound of 3 messages/);
    expect(sender.backlog().messages).to.equal(3);
    sender.close();
  });
});
