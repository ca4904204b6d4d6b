/**
 * The typed channel: messages (binary values included) arrive as they were sent, across two
 * threads; a decoded message never points into ring memory; a full ring reports backpressure and
 * sendAsync waits it out; run() ends on close or abort and lets the event loop breathe.
 *
 * Runs on: the mocha main thread, plus one echo worker thread in the two-thread test.
 */
import { expect } from 'chai';
import { receiveMessagesPerTurnMax, RingReceiver, RingSender } from '../../src/ring/ring-channel.js';
import { createRingBuffer } from '../../src/ring/spsc-ring.js';
import type { EchoWorkerData } from './ring-channel-echo-worker.js';
import { messageOfType, withinMs, WorkerPool } from './ring-test-helpers.js';

const WAIT_BOUND_MS = 10_000;

interface JobMessage {
  readonly type: string;
  readonly id: number;
  readonly payload: Uint8Array;
  readonly tags?: readonly string[];
  readonly nested?: { readonly at: number; readonly ok: boolean; readonly note: string | null };
}

function openChannel<T>(capacityBytes = 4096): { buffer: SharedArrayBuffer; sender: RingSender<T>; receiver: RingReceiver<T> } {
  const buffer = createRingBuffer(capacityBytes);
  return { buffer, sender: new RingSender<T>(buffer), receiver: new RingReceiver<T>(buffer) };
}

function job(id: number, payloadBytes: number): JobMessage {
  return { type: 'enqueue', id, payload: Uint8Array.from({ length: payloadBytes }, (_, index) => (id + index) & 0xff) };
}

describe('ring channel, one thread', () => {
  it('delivers typed messages in order, binary values as Uint8Array with the same bytes', () => {
    const { sender, receiver } = openChannel<JobMessage>();
    const sent: JobMessage[] = [
      { ...job(1, 10), tags: ['a', 'ünïcødé ✓'], nested: { at: -1.5, ok: true, note: null } },
      { ...job(2, 0), payload: Buffer.from('buffer bytes') },
      job(2 ** 53 - 1, 3),
    ];
    for (const message of sent) expect(sender.send(message)).to.equal(true);
    const received: JobMessage[] = [];
    expect(receiver.receiveAll((message) => received.push(message))).to.equal(3);
    expect(received.map((message) => ({ ...message, payload: Uint8Array.from(message.payload) }))).to.deep.equal(
      sent.map((message) => ({ ...message, payload: Uint8Array.from(message.payload) })),
    );
    for (const message of received) expect(message.payload).to.be.instanceOf(Uint8Array);
  });

  it('a decoded binary value is a copy: later traffic through the ring does not change it', () => {
    const { buffer, sender, receiver } = openChannel<JobMessage>(256);
    sender.send(job(7, 40));
    let kept: JobMessage | undefined;
    receiver.receiveAll((message) => (kept = message));
    for (let round = 0; round < 20; round++) {
      sender.send(job(100 + round, 60));
      receiver.receiveAll(() => undefined);
    }
    expect(kept?.payload.buffer).to.not.equal(buffer);
    expect(Uint8Array.from(kept?.payload ?? [])).to.deep.equal(job(7, 40).payload);
  });

  it('refuses a message larger than the ring carries, naming both sizes', () => {
    const { sender } = openChannel<JobMessage>(256);
    expect(sender.messageBytesMax).to.equal(124);
    expect(() => sender.send(job(1, 200))).to.throw(RangeError, /message encodes to \d+ bytes; this ring of 256 bytes carries at most 124/);
  });

  it('send reports a full ring, sendAsync waits for the receiver to drain, and gives up after its timeout', async () => {
    const { sender, receiver } = openChannel<JobMessage>(256);
    let accepted = 0;
    while (sender.send(job(accepted, 50))) accepted++;
    expect(accepted).to.be.greaterThan(0);
    expect(await withinMs(sender.sendAsync(job(99, 50), 10), WAIT_BOUND_MS, 'sendAsync timeout')).to.equal(false);
    const waiting = sender.sendAsync(job(100, 50), WAIT_BOUND_MS);
    const ids: number[] = [];
    receiver.receiveAll((message) => ids.push(message.id));
    expect(await withinMs(waiting, WAIT_BOUND_MS, 'sendAsync after a drain')).to.equal(true);
    receiver.receiveAll((message) => ids.push(message.id));
    expect(ids).to.deep.equal([...Array.from({ length: accepted }, (_, index) => index), 100]);
  });

  it('sendMany writes in order with one publish and says how many fitted', () => {
    const { sender, receiver } = openChannel<JobMessage>(256);
    const messages = Array.from({ length: 10 }, (_, index) => job(index, 20));
    const ids: number[] = [];
    const writtenPerCall: number[] = [];
    // Bounded: each call writes at least one message into the drained ring.
    for (let next = 0; next < messages.length && writtenPerCall.length < messages.length; ) {
      const written = sender.sendMany(messages, next);
      writtenPerCall.push(written);
      next += written;
      receiver.receiveAll((message) => ids.push(message.id));
    }
    expect(writtenPerCall[0], 'the first call filled the ring, not more').to.be.within(1, 9);
    expect(ids).to.deep.equal(messages.map((message) => message.id));
  });

  it('a handler that throws gets the same message again on the next call', () => {
    const { sender, receiver } = openChannel<JobMessage>();
    sender.sendMany([job(1, 1), job(2, 1)]);
    const ids: number[] = [];
    let failOnce = true;
    const handler = (message: JobMessage): void => {
      if (message.id === 2 && failOnce) {
        failOnce = false;
        throw new Error('handler failed');
      }
      ids.push(message.id);
    };
    expect(() => receiver.receiveAll(handler)).to.throw('handler failed');
    receiver.receiveAll(handler);
    expect(ids).to.deep.equal([1, 2]);
  });
});

describe('ring channel, run()', () => {
  it('ends once the sender closed and every message was handled', async () => {
    const { sender, receiver } = openChannel<JobMessage>();
    const ids: number[] = [];
    const running = receiver.run((message) => ids.push(message.id));
    sender.send(job(1, 5));
    sender.send(job(2, 5));
    sender.close();
    await withinMs(running, WAIT_BOUND_MS, 'run() after close');
    expect(ids).to.deep.equal([1, 2]);
  });

  it('ends when its signal aborts while it sleeps', async () => {
    const { receiver } = openChannel<JobMessage>();
    const abort = new AbortController();
    const running = receiver.run(() => undefined, abort.signal);
    abort.abort();
    await withinMs(running, WAIT_BOUND_MS, 'run() after abort');
  });

  it('lets the event loop run after receiveMessagesPerTurnMax messages in a row', async () => {
    const { sender, receiver } = openChannel<{ readonly n: number }>(1 << 20);
    const total = receiveMessagesPerTurnMax * 2 + 10;
    for (let n = 0; n < total; n++) expect(sender.send({ n })).to.equal(true);
    sender.close();
    let handled = 0;
    let handledWhenImmediateRan = -1;
    setImmediate(() => (handledWhenImmediateRan = handled));
    await withinMs(receiver.run(() => handled++), WAIT_BOUND_MS, 'run() over a full turn');
    expect(handled).to.equal(total);
    expect(handledWhenImmediateRan).to.equal(receiveMessagesPerTurnMax);
  });

  it('rejects with the error of a parse that refuses a message', async () => {
    const buffer = createRingBuffer(4096);
    const sender = new RingSender<unknown>(buffer);
    const receiver = new RingReceiver<{ readonly id: number }>(buffer, {
      parse: (value) => {
        if (typeof value !== 'object' || value === null || typeof (value as { id?: unknown }).id !== 'number') {
          throw new TypeError('message without a numeric id');
        }
        return value as { readonly id: number };
      },
    });
    sender.send({ id: 'x' });
    let error: unknown;
    await withinMs(receiver.run(() => undefined).catch((caught: unknown) => (error = caught)), WAIT_BOUND_MS, 'run() rejects');
    expect(error).to.be.instanceOf(TypeError);
  });
});

describe('ring channel, two threads', function () {
  this.timeout(30_000);
  const pool = new WorkerPool();
  afterEach(async () => pool.terminateAll());

  it('round-trips typed messages, Buffers and Uint8Arrays included, through a worker and back', async () => {
    const outbound = createRingBuffer(4096); // small: both sides meet full rings and wait
    const inbound = createRingBuffer(4096);
    const sender = new RingSender<JobMessage>(outbound);
    const receiver = new RingReceiver<JobMessage>(inbound);
    const echoWorkerData: EchoWorkerData = { inbound: outbound, outbound: inbound };
    const worker = pool.start(new URL('./ring-channel-echo-worker.js', import.meta.url), echoWorkerData);
    const workerDone = messageOfType<{ type: string }>(worker, 'done');
    workerDone.catch(() => undefined);

    const count = 20_000;
    const messageAt = (id: number): JobMessage => {
      const base = job(id, id % 97 === 0 ? 1500 : id % 40);
      return {
        ...base,
        payload: id % 2 === 0 ? Buffer.from(base.payload) : base.payload,
        tags: id % 3 === 0 ? ['t', `n${id}`] : [],
        nested: { at: id / 7, ok: id % 2 === 0, note: id % 5 === 0 ? null : 'é' },
      };
    };
    const received: JobMessage[] = [];
    const receiving = receiver.run((message) => received.push(message));
    for (let id = 0; id < count; id++) {
      if (!(await sender.sendAsync(messageAt(id), WAIT_BOUND_MS))) throw new Error(`ring stayed full at message ${id}`);
    }
    sender.close();
    await withinMs(receiving, WAIT_BOUND_MS, 'all echoes');
    expect((await withinMs(workerDone, WAIT_BOUND_MS, 'worker report')).type).to.equal('done');

    expect(received.length).to.equal(count);
    for (let id = 0; id < count; id++) {
      const expected = messageAt(id);
      const got = received[id];
      expect(got?.payload, `message ${id} payload type`).to.be.instanceOf(Uint8Array);
      expect({ ...got, payload: Uint8Array.from(got?.payload ?? []) }, `message ${id}`).to.deep.equal({
        ...expected,
        payload: Uint8Array.from(expected.payload),
      });
    }
  });
});
