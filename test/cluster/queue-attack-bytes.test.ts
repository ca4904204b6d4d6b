/**
 * Attacks on the client port of a real node with bad bytes: seeded random garbage frames, frames
 * whose length lies (zero, above the bound, cut short), MessagePack nested too deep, and a few
 * thousand valid requests of every type with fields mutated to random values (wrong types, huge,
 * negative, fractional, empty, deeply nested, binary); then a client that pipelines large replies
 * and never reads. Afterwards the node answers a new client, no actor was restarted, the greedy
 * reader was cut off, and the same enqueue with a key still answers its first job.
 *
 * The seed is printed on failure; `ATTACK_SEED=n` replays one.
 *
 * Runs on: test process (one node process).
 */
import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { createCodec } from '../../src/codec/msgpack.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection } from '../support/queue-cluster.js';
import { waitUntil } from '../support/wait-until.js';
import { seededRandom } from '../wal/wal-test-helpers.js';


const requestTemplates: Array<Record<string, unknown>> = [
  { type: 'hello', protocol: 1, producerId: 'p-1' },
  { type: 'enqueue', queue: 'fuzz', jobs: [{ payload: Buffer.from('x'), idempotencyKey: 'k', priority: 1, delayMs: 0, attemptsMax: 3, leaseMs: 1000, contentType: 'application/json' }], sequence: 1 },
  { type: 'pull', queue: 'fuzz', jobsMax: 4, leaseMs: 1000, waitMs: 10, workerId: 'w' },
  { type: 'ack', jobId: 1, token: 1, result: Buffer.from('r') },
  { type: 'nack', jobId: 1, token: 1, error: 'e', retryable: true, delayMs: 10 },
  { type: 'extend', jobId: 1, token: 1, leaseMs: 1000 },
  { type: 'get', jobId: 1 },
  { type: 'list', queue: 'fuzz', state: 'ready', afterId: 0, limit: 10 },
  { type: 'cancel', jobId: 1 },
  { type: 'stats', queue: 'fuzz' },
  { type: 'pause', queue: 'fuzz' },
  { type: 'resume', queue: 'fuzz' },
  { type: 'register', workerId: 'w', queues: ['fuzz'], capacity: 4 },
  { type: 'heartbeat', workerId: 'w', load: 1 },
  { type: 'redrive', queue: 'fuzz', jobsMax: 10 },
  { type: 'purge', queue: 'fuzz', set: 'dead' },
];

function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * 16);
  switch (pick) {
    case 0: return null;
    case 1: return random() < 0.5;
    case 2: return Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1);
    case 3: return random() * 1e6 - 5e5;
    case 4: return [0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 53, -0, Number.NaN, Number.POSITIVE_INFINITY][Math.floor(random() * 9)];
    case 5: return '';
    case 6: return 'z'.repeat(Math.floor(random() * 5000));
    case 7: return String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(random() * 0xffff)));
    case 8: return Buffer.alloc(Math.floor(random() * 3000), Math.floor(random() * 256));
    case 9: return depth > 3 ? 1 : Array.from({ length: Math.floor(random() * 5) }, () => randomValue(random, depth + 1));
    case 10: return depth > 3 ? 2 : { payload: randomValue(random, depth + 1), key: randomValue(random, depth + 1), idempotencyKey: randomValue(random, depth + 1) };
    case 11: return BigInt(2) ** BigInt(63) - BigInt(1);
    case 12: return ['fuzz', 'fuzz2', 'ready', 'dead', 'leased', 'completed'][Math.floor(random() * 6)];
    default: return Math.floor(random() * 20);
  }
}

function mutatedRequest(random: () => number, id: number): Record<string, unknown> {
  const template = requestTemplates[Math.floor(random() * requestTemplates.length)] as Record<string, unknown>;
  const request: Record<string, unknown> = { ...template, id };
  const fields = Object.keys(template);
  const mutations = Math.floor(random() * 4);
  for (let at = 0; at < mutations; at += 1) {
    const field = random() < 0.9 ? fields[Math.floor(random() * fields.length)] as string : `extra${at}`;
    if (field === 'type' && random() < 0.7) continue;
    request[field] = randomValue(random, 0);
  }
  return request;
}

function frame(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.byteLength, 0);
  return Buffer.concat([header, body]);
}

async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => { /* the node may cut it off: expected */ });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Resolves when `socket` closes, or after `timeoutMs` (false). */
function closedWithin(socket: Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => { clearTimeout(timer); resolve(true); });
  });
}

/**
 * Reads the reply frames arriving on `socket` from its first byte on and keeps their ids, so that a
 * test can wait for the answer to a request it sent last.
 */
function replyIdsOf(socket: Socket, unpack: (bytes: Uint8Array) => unknown): Set<unknown> {
  const ids = new Set<unknown>();
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const end = 4 + pending.readUInt32BE(0);
      try {
        ids.add((unpack(pending.subarray(4, end)) as { id?: unknown } | null)?.id);
      } catch {
        // A reply this codec cannot read names no id we wait for.
      }
      pending = pending.subarray(end);
    }
  });
  return ids;
}

function findNumber(value: unknown, key: string): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [name, inner] of Object.entries(value as Record<string, unknown>)) {
    if (name === key && typeof inner === 'number') return inner;
    const found = findNumber(inner, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

describe('queue attack: bad client bytes (one real node)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({ nodeCount: 1, logLevel: 'error', extraYaml: 'queue:\n  clientSendQueueBytesMax: 262144\n' });
  const seed = Number(process.env['ATTACK_SEED'] ?? Date.now() % 100_000);

  it(`survives garbage, lying lengths, deep nesting, mutated requests and a reader that never reads (seed ${seed})`, async () => {
    const { nodes, cluster } = started;
    await nodes.leaderAgreedBy(['n1']);
    const port = cluster.nodes[0]?.clientPort ?? 0;
    const random = seededRandom(seed);
    const { packr } = createCodec();
    const client = clusterConnection(cluster);
    const [first] = (await client.call({ type: 'enqueue', queue: 'fuzz', jobs: [{ payload: Buffer.from('keep'), idempotencyKey: 'anchor' }] }))['jobs'] as Array<{ id: number }>;

    // Garbage and lying lengths, each on its own connection.
    const depth = 100_000;
    const deep = Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
    const attacks: Buffer[] = [
      Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), Buffer.from([0, 0, 0, 10, 0x81]),
      frame(deep), frame(Buffer.concat([Buffer.from([0x82, 0xa2, 0x69, 0x64, 0x01, 0xa4, 0x74, 0x79, 0x70, 0x65]), Buffer.alloc(1000, 0x91), Buffer.from([0xc0])])),
      frame(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])), frame(Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff])), frame(Buffer.from([0xc7, 0x05, 0x01, 1, 2, 3, 4, 5])),
      frame(Buffer.from([0xd6, 0xff, 0, 0, 0, 1])),
    ];
    for (let at = 0; at < 40; at += 1) attacks.push(frame(Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)))));
    await Promise.all(attacks.map(async (bytes) => {
      const socket = await openSocket(port);
      socket.write(bytes);
      socket.resume();
      await closedWithin(socket, 1_000);
      socket.destroy();
    }));

    // Mutated requests, pipelined on a few connections.
    const sockets = await Promise.all([1, 2, 3, 4].map(() => openSocket(port)));
    const replyIds = sockets.map((socket) => replyIdsOf(socket, (bytes) => packr.unpack(bytes)));
    for (const socket of sockets) socket.resume();
    let reopened = 0;
    for (let at = 0; at < 3_000; at += 1) {
      let socket = sockets[at % sockets.length] as Socket;
      if (socket.destroyed || socket.closed) {
        socket = await openSocket(port);
        replyIds[at % sockets.length] = replyIdsOf(socket, (bytes) => packr.unpack(bytes));
        socket.resume();
        sockets[at % sockets.length] = socket;
        reopened += 1;
      }
      let body: Uint8Array;
      try {
        body = packr.pack(mutatedRequest(random, at + 1));
      } catch {
        continue; // not encodable by our own codec
      }
      socket.write(frame(body));
    }
    // A last stats on each connection: once it is answered (or the node closed the connection), the
    // node has read every mutated request sent before it.
    const lastId = 1_000_000;
    for (const socket of sockets) if (!socket.destroyed) socket.write(frame(packr.pack({ id: lastId, type: 'stats', queue: 'fuzz' })));
    await waitUntil(() => sockets.every((socket, at) => socket.destroyed || socket.closed || replyIds[at]?.has(lastId) === true),
      `the node read every mutated request (a last stats answered on each connection, or the connection closed; seed ${seed})`, 15_000);
    for (const socket of sockets) socket.destroy();
    expect(reopened, 'connections the node closed for a mutated request (each request keeps its id)').to.be.below(100);

    // A reader that never reads: 60,000 acks with wrong tokens pipelined (writes; a burst of large
    // reads fails the node for another reason, queue-attack-reads.test.ts), whose LEASE_LOST
    // answers add up to far more than the send queue's bound plus the kernel's buffers.
    const [small] = (await client.call({ type: 'enqueue', queue: 'wide', jobs: [{ payload: Buffer.alloc(100, 0x77) }] }))['jobs'] as Array<{ id: number }>;
    const greedy = await openSocket(port);
    greedy.pause();
    for (let chunk = 0; chunk < 60; chunk += 1) {
      greedy.write(Buffer.concat(Array.from({ length: 1000 }, (_, at) => frame(packr.pack({ id: chunk * 1000 + at + 1, type: 'ack', jobId: small?.id, token: 1_000_000_000 + at })))));
    }
    const deadline = Date.now() + 15_000;
    let cut: number | undefined;
    while (Date.now() < deadline) {
      const status = await (await fetch(`${nodes.opsUrl('n1')}/status`)).json() as unknown;
      cut = findNumber(status, 'slowClientsCut');
      if (cut !== undefined && cut > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    greedy.destroy();
    expect(cut, 'the reader that never read was cut off').to.be.above(0);

    // The node is whole: a new client, the key's first job, no actor restarted.
    const after = clusterConnection(cluster);
    const [again] = (await after.call({ type: 'enqueue', queue: 'fuzz', jobs: [{ payload: Buffer.from('keep'), idempotencyKey: 'anchor' }] }))['jobs'] as Array<{ id: number; duplicate: boolean }>;
    expect(again, 'the anchor key').to.deep.include({ id: first?.id, duplicate: true });
    const restarts = await nodes.actorRestarts('n1');
    const restarted = Object.entries(restarts ?? {}).filter(([, actor]) => actor.restarts > 0 || actor.lastFailure !== null);
    expect(restarts, 'the node answers /status').to.not.equal(undefined);
    expect(restarted, `actors restarted or failed (seed ${seed})`).to.deep.equal([]);
    expect(nodes.process('n1').child.exitCode, 'the node is running').to.equal(null);
    client.close();
    after.close();
  });
});
