/**
 * The WAL writer actor, driven through its real ring as the Replicator drives it: appends become
 * durable in group commits and are reported only then; a restart recovers them; reads return
 * them; a corrupt log refuses the start naming file and offset.
 */
import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterConfig, selectNode } from '../../src/config/load-config.js';
import type { ClusterConfig } from '../../src/config/cluster-config.js';
import { startSoloActor, type SoloActor } from '../support/solo-actor.js';
import type { FromWal, ToWal } from '../../src/protocol/wal.js';
import { isFalconError } from '../../src/errors.js';
import { checkFromWal } from '../../src/protocol/wal-validation.js';

const payload = (index: number): Uint8Array => Buffer.from(`job-${index}-`.repeat(1 + (index % 7)));

function configFor(dir: string, extraWal = '', ringCapacityBytes = 1048576): ClusterConfig {
  const text = `cluster:\n  name: t\nnodes:\n  - id: n1\n    host: 127.0.0.1\n    peerPort: 1\n    clientPort: 2\n    opsPort: 3\n    dataDir: ./n1\n`
    + `wal:\n  segmentBytes: 65536\n${extraWal}logging:\n  level: warn\nring:\n  capacityBytes: ${ringCapacityBytes}\n`
    // A small ring carries small jobs only (queue.payloadBytesMax is at most 3/8 of it).
    + `queue:\n  payloadBytesMax: ${Math.floor((ringCapacityBytes * 3) / 8)}\n`;
  return parseClusterConfig(text, 'test.yaml', dir);
}

/** The WAL actor plus what it sent the Replicator, collected as it arrives. */
async function startWal(config: ClusterConfig): Promise<{ actor: SoloActor<'walWriter'>; inbox: FromWal[]; next: (type: FromWal['type'], timeoutMs?: number) => Promise<FromWal> }> {
  const actor = startSoloActor('walWriter', config, selectNode(config, 'n1'));
  const inbox: FromWal[] = [];
  const pump = (): void => {
    actor.receive('replicator', (message) => {
      const reply = checkFromWal(message);
      if (isFalconError(reply)) throw new Error(reply.message);
      inbox.push(reply);
    });
  };
  const next = async (type: FromWal['type'], timeoutMs = 10_000): Promise<FromWal> => {
    const deadline = Date.now() + timeoutMs;
    // Bounded by the deadline; each turn waits for the ring, not for a fixed time.
    for (;;) {
      pump();
      const found = inbox.findIndex((message) => message.type === type);
      if (found >= 0) return inbox.splice(found, 1)[0] as FromWal;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error(`no '${type}' from the WAL actor within ${timeoutMs} ms; got ${inbox.map((m) => m.type).join(', ')}; control: ${JSON.stringify(actor.control)}`);
      await actor.waitForMessage('replicator', Math.min(remainingMs, 200));
    }
  };
  const ready = actor.ready;
  const answerProbes = setInterval(pump, 5);
  try {
    await ready;
  } finally {
    clearInterval(answerProbes);
  }
  await next('walStarted');
  actor.send('replicator', { type: 'describe' });
  return { actor, inbox, next };
}

const send = (actor: SoloActor<'walWriter'>, message: ToWal): boolean => actor.send('replicator', message);

describe('WAL writer actor', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'falcon-wal-actor-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('reports appends durable only through group commits, and a restart recovers every one', async () => {
    const config = configFor(dir);
    const first = await startWal(config);
    const recovered = await first.next('walRecovered');
    expect(recovered).to.include({ lastIndex: 0, firstIndex: 1 });
    let index = 0;
    for (let batch = 0; batch < 50; batch += 1) {
      const entries = Array.from({ length: 40 }, () => { index += 1; return { term: 1, index, type: 0, data: payload(index) }; });
      expect(send(first.actor, { type: 'append', entries })).to.equal(true);
    }
    let durable = 0;
    let reports = 0;
    while (durable < 2000) {
      const message = await first.next('durable');
      if (message.type !== 'durable') throw new Error('unreachable');
      expect(message.lastIndex, 'durable index never goes back').to.be.greaterThan(durable);
      durable = message.lastIndex;
      reports += 1;
    }
    expect(reports, 'appends are committed in groups, not one fsync per append message').to.be.lessThan(50);
    expect(await first.actor.stop()).to.equal(0);

    const second = await startWal(config);
    expect(await second.next('walRecovered')).to.include({ lastIndex: 2000, lastTerm: 1 });
    send(second.actor, { type: 'read', requestId: 7, fromIndex: 1995, toIndex: 2000, bytesMax: 1 << 20 });
    const read = await second.next('entries');
    if (read.type !== 'entries') throw new Error('unreachable');
    expect(read.requestId).to.equal(7);
    expect(read.entries.map((entry) => entry.index)).to.deep.equal([1995, 1996, 1997, 1998, 1999, 2000]);
    expect(Buffer.from(read.entries[0]?.data ?? []).toString()).to.equal(Buffer.from(payload(1995)).toString());
    await second.actor.stop();
  });

  it('stops on a malformed request instead of writing around it, naming the field; a restart recovers what was durable', async () => {
    const config = configFor(dir);
    const first = await startWal(config);
    await first.next('walRecovered');
    send(first.actor, { type: 'append', entries: [{ term: 1, index: 1, type: 0, data: payload(1) }] });
    expect(await first.next('durable')).to.include({ lastIndex: 1 });
    const failed = new Promise<Error>((resolve) => first.actor.worker.once('error', resolve));
    // A bug in the sender, made on purpose: entry 2 carries text where bytes belong.
    const malformed = { type: 'append', entries: [{ term: 1, index: 2, type: 0, data: 'not bytes' }] } as unknown as ToWal;
    send(first.actor, malformed);
    send(first.actor, { type: 'append', entries: [{ term: 1, index: 3, type: 0, data: payload(3) }] });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the WAL actor went on after a malformed request')), 10_000).unref());
    const error = await Promise.race([failed, timeout]);
    expect(error.message).to.contain('append.entries[0].data is not a byte array');
    await first.actor.worker.terminate();

    const second = await startWal(config);
    expect(await second.next('walRecovered'), 'nothing after the malformed request was written').to.include({ lastIndex: 1 });
    await second.actor.stop();
  });

  it('persists the hard state and truncates on request, answering only when durable', async () => {
    const config = configFor(dir);
    const wal = await startWal(config);
    await wal.next('walRecovered');
    send(wal.actor, { type: 'append', entries: [1, 2, 3, 4, 5].map((index) => ({ term: 2, index, type: 0, data: payload(index) })) });
    send(wal.actor, { type: 'saveHardState', state: { term: 3, vote: 'n2', commit: 2 } });
    expect(await wal.next('hardStateSaved')).to.deep.include({ state: { term: 3, vote: 'n2', commit: 2, cluster: null } });
    send(wal.actor, { type: 'truncate', fromIndex: 4 });
    expect(await wal.next('truncated')).to.include({ lastIndex: 3, lastTerm: 2 });
    await wal.actor.stop();
    const again = await startWal(config);
    const recovered = await again.next('walRecovered');
    expect(recovered).to.deep.include({ lastIndex: 3, hardState: { term: 3, vote: 'n2', commit: 2, cluster: null } });
    await again.actor.stop();
  });

  it('replies that find the Replicator\'s ring full all arrive later, in request order', async () => {
    const config = configFor(dir, '', 65_536); // the smallest ring: a few replies fill it
    const wal = await startWal(config);
    try {
      await wal.next('walRecovered');
      for (let batch = 0; batch < 4; batch += 1) {
        send(wal.actor, { type: 'append', entries: Array.from({ length: 50 }, (_, at) => ({ term: 1, index: batch * 50 + at + 1, type: 0, data: Buffer.alloc(200, at) })) });
      }
      for (let durable = 0; durable < 200;) {
        const message = await wal.next('durable');
        if (message.type === 'durable') durable = message.lastIndex;
      }
      // 100 answers of ~16 KB each, ~1.6 MB against a 64 KiB ring, asked for before any is read.
      const requests = 100;
      for (let requestId = 1; requestId <= requests; requestId += 1) {
        expect(send(wal.actor, { type: 'read', requestId, fromIndex: 1, toIndex: 200, bytesMax: 16_000 }), `request ${requestId} fits the inbound ring`).to.equal(true);
      }
      const answered: number[] = [];
      for (let count = 0; count < requests; count += 1) {
        const reply = await wal.next('entries');
        if (reply.type !== 'entries') throw new Error('unreachable');
        expect(reply.entries[0]?.index).to.equal(1);
        answered.push(reply.requestId);
      }
      expect(answered).to.deep.equal(Array.from({ length: requests }, (_, at) => at + 1));
    } finally {
      await wal.actor.stop();
    }
  });

  it('refuses to start on a corrupt older segment, naming the file and offset', async () => {
    const config = configFor(dir);
    const wal = await startWal(config);
    await wal.next('walRecovered');
    let index = 0;
    for (let batch = 0; batch < 20; batch += 1) {
      send(wal.actor, { type: 'append', entries: Array.from({ length: 50 }, () => { index += 1; return { term: 1, index, type: 0, data: Buffer.alloc(200, index & 255) }; }) });
    }
    for (let durable = 0; durable < 1000;) {
      const message = await wal.next('durable');
      if (message.type === 'durable') durable = message.lastIndex;
    }
    await wal.actor.stop();
    const walDir = join(dir, 'n1', 'wal');
    const segments = (await readdir(walDir)).filter((name) => name.endsWith('.seg')).sort();
    expect(segments.length, 'the log spans several segments').to.be.greaterThan(2);
    const victim = join(walDir, segments[0] ?? '');
    const bytes = await readFile(victim);
    bytes[1000] = (bytes[1000] ?? 0) ^ 0x40;
    await writeFile(victim, bytes);
    const refused = startSoloActor('walWriter', config, selectNode(config, 'n1'));
    const answer = setInterval(() => refused.receive('replicator', () => undefined), 5);
    try {
      let failure = '';
      await refused.ready.catch((error: Error) => { failure = error.message; });
      expect(failure).to.contain('CORRUPTION').and.contain(segments[0] ?? '?').and.match(/offset \d+/);
      expect(refused.control.some((message) => message.type === 'fatal' && message.exit === 'refusedToStart')).to.equal(true);
    } finally {
      clearInterval(answer);
      await refused.worker.terminate();
    }
  });
});
