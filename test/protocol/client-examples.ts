/**
 * One example of every client request and reply (client.ts), shared by the protocol's and the
 * client server's tests; docs/protocol.md shows the same messages.
 *
 * Runs on: the mocha process.
 */
import type { ClientReplies, ClientRequest, ClientRequestType } from '../../src/protocol/client.js';

/** The payload cap the examples are checked against. */
export const payloadBytesMax = 1024;
export const bytes = (length: number, fill = 7): Uint8Array => new Uint8Array(length).fill(fill);

export const exampleRequests: ClientRequest[] = [
  { id: 1, type: 'hello', protocol: 1 },
  { id: 2, type: 'hello', protocol: 1, producerId: 'p-7f3a', client: 'falcon-ts/0.1', leaderWaitMs: 1_000 },
  { id: 3, type: 'enqueue', queue: 'email', jobs: [{ payload: bytes(3) }] },
  {
    id: 4, type: 'enqueue', queue: 'email', sequence: 12, jobs: [
      { payload: bytes(3), contentType: 'application/json', priority: -5, delayMs: 1000, attemptsMax: 3, leaseMs: 60_000, backoff: { kind: 'exponential', delayMs: 100, delayMsMax: 10_000, jitterRatio: 0.5 }, idempotencyKey: 'order-42' },
      { payload: bytes(payloadBytesMax), contentType: 'application/msgpack', backoff: { kind: 'fixed', delayMs: 0 } },
    ],
  },
  { id: 5, type: 'pull', queue: 'email', jobsMax: 10 },
  { id: 6, type: 'pull', queue: 'email', jobsMax: 4096, leaseMs: 5000, waitMs: 60_000, workerId: 'w1' },
  { id: 7, type: 'ack', jobId: 4097, token: 12 },
  { id: 8, type: 'ack', jobId: 4097, token: 12, result: bytes(4) },
  { id: 9, type: 'nack', jobId: 4097, token: 12 },
  { id: 10, type: 'nack', jobId: 4097, token: 12, error: 'smtp timeout', retryable: false, delayMs: 500 },
  { id: 11, type: 'extend', jobId: 4097, token: 12 },
  { id: 12, type: 'extend', jobId: 4097, token: 12, leaseMs: 30_000 },
  { id: 13, type: 'get', jobId: 4097 },
  { id: 14, type: 'list', queue: 'email', state: 'dead' },
  { id: 15, type: 'list', queue: 'email', state: 'ready', afterId: 4097, limit: 1000 },
  { id: 16, type: 'cancel', jobId: 4097 },
  { id: 17, type: 'stats' },
  { id: 18, type: 'stats', queue: 'email' },
  { id: 19, type: 'pause', queue: 'email' },
  { id: 20, type: 'resume', queue: 'email' },
  { id: 21, type: 'register', workerId: 'w1', queues: ['email', 'sms'], capacity: 8 },
  { id: 22, type: 'heartbeat', workerId: 'w1' },
  { id: 23, type: 'heartbeat', workerId: 'w1', load: 3 },
  { id: 27, type: 'unregister', workerId: 'w1' },
  { id: 24, type: 'redrive', queue: 'email' },
  { id: 25, type: 'redrive', queue: 'email', jobsMax: 10 },
  { id: 26, type: 'purge', queue: 'email', set: 'ready' },
  { id: Number.MAX_SAFE_INTEGER, type: 'purge', queue: 'ünïcødé queue', set: 'dead' },
];

const job = { id: 4097, queue: 'email', payload: bytes(3), contentType: 'application/json', priority: 0, attempt: 1, attemptsMax: 5, token: 12, deadlineMs: 1_700_000_030_000, enqueuedAtMs: 1_700_000_000_000 } as const;
const stats = { queue: 'email', paused: false, ready: 1, delayed: 0, leased: 2, dead: 0, completed: 9, bytes: 300, oldestReadyAgeMs: 12, enqueuedTotal: 12, leasedTotal: 11, ackedTotal: 9, nackedTotal: 1, expiredTotal: 0, deadLetteredTotal: 0 };

export const exampleReplies: { readonly [Type in ClientRequestType]: ClientReplies[Type] } = {
  hello: { id: 1, protocol: 1, node: 'n1', leader: null, producerId: 'p-7f3a', access: 'produce' },
  enqueue: { id: 4, jobs: [{ id: 4097, state: 'delayed', duplicate: false }, { id: 4098, state: 'ready', duplicate: true }] },
  pull: { id: 5, jobs: [job] },
  ack: { id: 7, repeated: false },
  nack: { id: 9, state: 'delayed', retryAtMs: 1_700_000_000_500 },
  extend: { id: 11, deadlineMs: 1_700_000_060_000 },
  get: {
    id: 13, job: {
      id: 4097, queue: 'email', state: 'leased', priority: 0, payload: bytes(3), contentType: 'application/json', attempts: 1, attemptsMax: 5,
      runAtMs: 1_700_000_000_000, enqueuedAtMs: 1_700_000_000_000, updatedAtMs: 1_700_000_000_010, idempotencyKey: 'order-42', token: 12,
      leaseDeadlineMs: 1_700_000_030_010, workerId: 'w1',
      history: [{ state: 'ready', atMs: 1_700_000_000_000 }, { state: 'leased', atMs: 1_700_000_000_010, token: 12 }],
    },
  },
  list: { id: 14, jobs: [{ id: 4097, state: 'dead', priority: 0, attempts: 5, runAtMs: 1, enqueuedAtMs: 1, updatedAtMs: 2 }], nextAfterId: null },
  cancel: { id: 16 },
  stats: { id: 17, queues: [stats] },
  pause: { id: 19 },
  resume: { id: 20 },
  register: { id: 21, ttlMs: 5000 },
  heartbeat: { id: 22, ttlMs: 5000 },
  unregister: { id: 27, jobs: 2 },
  redrive: { id: 24, jobs: 3 },
  purge: { id: 26, jobs: 0 },
};
