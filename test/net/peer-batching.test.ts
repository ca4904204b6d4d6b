/**
 * When a peer link sends: a lone message on an idle link leaves at once (no batch timer), a burst
 * of one event-loop turn leaves as one batch, and while a frame awaits its reply messages gather
 * into one batch that leaves on the reply, at 64 messages, or after batchDelayMsMax — never later.
 * `batchDelayMsMax: 0` never arms a timer.
 *
 * The batch timer is faked (sinon, setTimeout only), so "left without the timer" is checked by the
 * message arriving while the fake clock stands still: no assertion here depends on how fast the
 * machine is. Waits for arrival are bounded with the real setTimeout, captured before faking.
 *
 * Runs on: test process.
 */
import { expect } from 'chai';
import { createServer, connect, type Socket } from 'node:net';
import { pino } from 'pino';
import sinon from 'sinon';
import { PeerConnection, type PeerConnectionLimits } from '../../src/net/peer-connection.js';

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

interface End {
  readonly connection: PeerConnection;
  readonly received: unknown[];
  /** Resolves once `count` messages have arrived at this end; fails after `timeoutMs` (real time). */
  untilReceived(count: number, timeoutMs?: number): Promise<void>;
}

const defaultLimits: PeerConnectionLimits = {
  frameBytesMax: 1 << 20, batchEventsMax: 64, batchDelayMsMax: 1, sendQueueMessagesMax: 1024, sendQueueBytesMax: 1 << 22,
};

function wrap(name: string, socket: Socket, limits: PeerConnectionLimits): End {
  const received: unknown[] = [];
  const waiters = new Set<() => void>();
  const connection = new PeerConnection(name, socket, limits, pino({ level: 'silent' }));
  connection.attach((message) => {
    received.push(message);
    for (const waiter of waiters) waiter();
  }, () => undefined);
  const untilReceived = (count: number, timeoutMs = 5_000): Promise<void> => new Promise((resolve, reject) => {
    if (received.length >= count) { resolve(); return; }
    const timer = realSetTimeout(() => {
      waiters.delete(check);
      reject(new Error(`${name} received ${received.length} of ${count} messages within ${timeoutMs} ms`));
    }, timeoutMs);
    const check = (): void => {
      if (received.length < count) return;
      realClearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
  });
  return { connection, received, untilReceived };
}

/** A connected pair of PeerConnections over loopback TCP. */
async function pair(limits: PeerConnectionLimits = defaultLimits): Promise<{ a: End; b: End }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const dialed = connect({ host: '127.0.0.1', port: address.port });
  await new Promise<void>((resolve) => dialed.once('connect', () => resolve()));
  const socketB = await accepted;
  server.close();
  return { a: wrap('a', dialed, limits), b: wrap('b', socketB, limits) };
}

/** Lets the event loop turn (I/O, immediates) without any timer. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('peer link batching', function () {
  this.timeout(10_000);
  let clock: sinon.SinonFakeTimers | undefined;
  const ends: End[] = [];
  afterEach(() => {
    clock?.restore();
    clock = undefined;
    for (const end of ends.splice(0)) end.connection.close('transport stopping');
  });
  const connected = async (limits?: PeerConnectionLimits): Promise<{ a: End; b: End }> => {
    const { a, b } = await pair(limits);
    ends.push(a, b);
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    return { a, b };
  };

  /** Sends one message on `a` and lets it leave; the link then has a frame awaiting its reply. */
  const putFrameInFlight = async (a: End, b: End): Promise<void> => {
    a.connection.send({ seq: 'first' });
    await b.untilReceived(1);
    expect(a.connection.stats.batchesSent).to.equal(1);
  };

  it('sends a lone message on an idle link at once, without waiting for the batch timer', async () => {
    const { a, b } = await connected();
    a.connection.send({ type: 'append', seq: 0 });
    await b.untilReceived(1);
    expect(b.received).to.deep.equal([{ type: 'append', seq: 0 }]);
    expect(clock?.countTimers(), 'no batch timer armed for an idle link').to.equal(0);
  });

  it('sends the messages of one event-loop turn on an idle link as one batch', async () => {
    const { a, b } = await connected();
    for (let seq = 0; seq < 10; seq += 1) a.connection.send({ seq });
    await b.untilReceived(10);
    expect(a.connection.stats.batchesSent).to.equal(1);
    expect(b.received.map((message) => (message as { seq: number }).seq)).to.deep.equal([...Array(10).keys()]);
  });

  it('sends 64 messages queued behind a frame in flight as one batch, without the timer', async () => {
    const { a, b } = await connected();
    await putFrameInFlight(a, b);
    for (let seq = 0; seq < 63; seq += 1) {
      a.connection.send({ seq });
      await nextTurn();
    }
    expect(a.connection.stats.batchesSent, '63 messages wait for the reply or the timer').to.equal(1);
    a.connection.send({ seq: 63 });
    await b.untilReceived(65);
    expect(a.connection.stats.batchesSent).to.equal(2);
  });

  it('gathers messages sent while a frame is in flight into one batch that leaves after batchDelayMsMax', async () => {
    const { a, b } = await connected();
    await putFrameInFlight(a, b);
    for (let seq = 0; seq < 5; seq += 1) {
      a.connection.send({ seq });
      await nextTurn();
    }
    expect(a.connection.stats.batchesSent, 'held while the frame awaits its reply').to.equal(1);
    clock?.tick(1);
    await b.untilReceived(6);
    expect(a.connection.stats.batchesSent).to.equal(2);
  });

  it('sends what waits behind a frame in flight as soon as the peer answers', async () => {
    const { a, b } = await connected();
    await putFrameInFlight(a, b);
    a.connection.send({ seq: 'waiting' });
    await nextTurn();
    expect(a.connection.stats.batchesSent).to.equal(1);
    b.connection.send({ type: 'reply' });
    await b.untilReceived(2);
    expect(b.received[1]).to.deep.equal({ seq: 'waiting' });
    expect(a.connection.stats.batchesSent).to.equal(2);
  });

  it('never arms a timer with batchDelayMsMax 0, even while a frame is in flight', async () => {
    const { a, b } = await connected({ ...defaultLimits, batchDelayMsMax: 0 });
    await putFrameInFlight(a, b);
    a.connection.send({ seq: 'second' });
    expect(clock?.countTimers(), 'timers armed').to.equal(0);
    await b.untilReceived(2);
    expect(clock?.countTimers(), 'timers armed').to.equal(0);
  });
});
