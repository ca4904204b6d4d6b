/**
 * Waiting on a ring, one thread: a sleeping consumer is woken by a write or a close, a sleeping
 * producer by a drain; timeouts and interrupts end a wait; Atomics.notify is called only when the
 * other side announced that it sleeps; a full ring reports backpressure.
 *
 * Every wait here is bounded (withinMs) and awaited as an event, never slept on.
 *
 * Runs on: the mocha main thread.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RingConsumer } from '../../src/ring/ring-consumer.js';
import { RingProducer } from '../../src/ring/ring-producer.js';
import { createRingBuffer, readRingStats, Word } from '../../src/ring/spsc-ring.js';
import { withinMs } from './ring-test-helpers.js';

const WAIT_BOUND_MS = 5_000;
/** A wait that should not sleep at all must end well within this. */
const RACE_BOUND_MS = 1_000;

function openRing(): { buffer: SharedArrayBuffer; producer: RingProducer; consumer: RingConsumer } {
  const buffer = createRingBuffer(256);
  return { buffer, producer: new RingProducer(buffer), consumer: new RingConsumer(buffer) };
}

/** Tracks whether a promise settled, so a test can assert that a wait is still pending. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  void promise.finally(() => (settled = true));
  return { settled: () => settled, promise };
}

describe('SPSC ring: a waiting consumer', () => {
  it('is woken by a write and finds the record', async () => {
    const { producer, consumer } = openRing();
    const waiting = track(consumer.waitForData());
    await nextTurn();
    expect(waiting.settled(), 'woke before any write').to.equal(false);
    producer.tryWrite(new Uint8Array([42]));
    expect(await withinMs(waiting.promise, WAIT_BOUND_MS, 'consumer woken by a write')).to.equal(true);
    const seen: number[] = [];
    consumer.drain((record) => seen.push(record[0] ?? -1));
    expect(seen).to.deep.equal([42]);
  });

  it('does not sleep when records are already there', async () => {
    const { producer, consumer } = openRing();
    producer.tryWrite(new Uint8Array(1));
    expect(await withinMs(consumer.waitForData(), WAIT_BOUND_MS, 'no sleep with records')).to.equal(true);
    expect(consumer.waitSync(0)).to.equal(true);
  });

  it('is woken by close', async () => {
    const { producer, consumer } = openRing();
    const waiting = consumer.waitForData();
    producer.close();
    expect(await withinMs(waiting, WAIT_BOUND_MS, 'consumer woken by close')).to.equal(true);
    expect(consumer.isFinished()).to.equal(true);
  });

  it('gives up after its timeout, with nothing to read', async () => {
    const { consumer } = openRing();
    expect(await withinMs(consumer.waitForData(20), WAIT_BOUND_MS, 'wait with a 20 ms timeout')).to.equal(false);
    expect(consumer.waitSync(5)).to.equal(false);
  });

  it('can be interrupted (this is how run() honours an abort)', async () => {
    const { consumer } = openRing();
    const waiting = consumer.waitForData();
    consumer.interruptWait();
    expect(await withinMs(waiting, WAIT_BOUND_MS, 'interrupted wait')).to.equal(false);
  });
});

/**
 * Runs `interleave` once, right before the first `Atomics.store(words[index], 1)`: the moment when
 * one side has found nothing to do and is about to announce its sleep. This replays, in one
 * thread and deterministically, the interleaving that loses a wake-up without the re-check.
 */
function beforeAnnouncing(index: number, interleave: () => void): void {
  const store = Atomics.store.bind(Atomics);
  let done = false;
  const storeFirstInterleaving = (array: Int32Array, at: number, value: number): number => {
    if (!done && at === index && value === 1) {
      done = true;
      interleave();
    }
    return store(array, at, value);
  };
  sinon.stub(Atomics, 'store').callsFake(storeFirstInterleaving as unknown as typeof Atomics.store);
}

describe('SPSC ring: the lost wake-up race', () => {
  afterEach(() => sinon.restore());

  it('a record published between the consumer finding the ring empty and announcing its sleep is not missed', async () => {
    const { producer, consumer } = openRing();
    beforeAnnouncing(Word.consumerWaiting, () => producer.tryWrite(new Uint8Array([7])));
    // The producer saw no announcement, so it did not notify: only the re-check can see the record.
    const waiting = consumer.waitForData(WAIT_BOUND_MS);
    try {
      expect(await withinMs(waiting, RACE_BOUND_MS, 'consumer slept through a record published before its announcement')).to.equal(true);
    } finally {
      consumer.interruptWait();
    }
    expect(consumer.drain(() => undefined)).to.equal(1);
  });

  it('space released between the producer finding the ring full and announcing its sleep is not missed', async () => {
    const { producer, consumer } = openRing();
    while (producer.tryWrite(new Uint8Array(60)));
    beforeAnnouncing(Word.producerWaiting, () => consumer.drain(() => undefined));
    const waiting = producer.waitForSpace(60, RACE_BOUND_MS * 2);
    expect(await withinMs(waiting, RACE_BOUND_MS, 'producer slept through space released before its announcement')).to.equal(true);
  });
});

describe('SPSC ring: notify only for a sleeper', () => {
  afterEach(() => sinon.restore());

  it('writes and drains call Atomics.notify only when the other side announced a sleep', async () => {
    const { producer, consumer } = openRing();
    const notify = sinon.spy(Atomics, 'notify');
    for (let round = 0; round < 50; round++) {
      producer.tryWrite(new Uint8Array(60));
      consumer.drain(() => undefined);
    }
    expect(notify.callCount, 'notify calls with nobody asleep').to.equal(0);
    const waiting = consumer.waitForData();
    producer.tryWrite(new Uint8Array(1));
    producer.tryWrite(new Uint8Array(1));
    expect(notify.callCount, 'one notify for one sleep').to.equal(1);
    await withinMs(waiting, WAIT_BOUND_MS, 'consumer woken');
  });
});

describe('SPSC ring: backpressure', () => {
  it('a full ring refuses writes, counts them, and wakes the waiting producer when drained', async () => {
    const { buffer, producer, consumer } = openRing();
    let written = 0;
    while (producer.tryWrite(new Uint8Array(60))) written++;
    expect(written).to.equal(4);
    expect(readRingStats(buffer).fullCount).to.equal(1);
    expect(producer.hasSpaceFor(60)).to.equal(false);

    const waiting = track(producer.waitForSpace(60, WAIT_BOUND_MS));
    await nextTurn();
    expect(waiting.settled(), 'producer woke while the ring was still full').to.equal(false);
    consumer.drain(() => undefined, 1);
    expect(await withinMs(waiting.promise, WAIT_BOUND_MS, 'producer woken by a drain')).to.equal(true);
    expect(producer.tryWrite(new Uint8Array(60))).to.equal(true);
  });

  it('a waiting producer gives up after its timeout if nobody drains', async () => {
    const { producer } = openRing();
    while (producer.tryWrite(new Uint8Array(124)));
    expect(await withinMs(producer.waitForSpace(124, 20), WAIT_BOUND_MS, 'producer timeout')).to.equal(false);
  });

  it('a waiting producer asks for room for its own record, including the wrap skip', async () => {
    const { producer, consumer } = openRing();
    producer.tryWrite(new Uint8Array(100)); // offset 0..103
    producer.tryWrite(new Uint8Array(100)); // offset 104..207; 48 bytes to the end
    expect(producer.hasSpaceFor(44)).to.equal(true); // 48 fit before the end
    expect(producer.hasSpaceFor(60)).to.equal(false); // 64 must skip 48 and wrap: 112 > 48 free
    const waiting = producer.waitForSpace(60, WAIT_BOUND_MS);
    consumer.drain(() => undefined, 1); // frees 104: skip 48 + 64 = 112 <= 152 free
    expect(await withinMs(waiting, WAIT_BOUND_MS, 'room after one drain')).to.equal(true);
    expect(producer.tryWrite(new Uint8Array(60))).to.equal(true);
  });
});
