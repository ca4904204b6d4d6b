/**
 * Attacks on the queue's durability and enqueue idempotency with crashes on three real nodes:
 * - keyed enqueues in flight, a request timeout so small that many first attempts are answered
 *   "outcome unknown" while their entries still commit, the leader killed with `kill -9`, the
 *   killed node restarted and the next leader killed too: every acknowledged job is in the queue,
 *   each key one job, and every key enqueued again answers its first job;
 * - producer sessions without keys (`hello` with a producer id, one `sequence` per enqueue), the
 *   leader killed while enqueues are in flight, every unanswered one retried with its sequence on
 *   the new leader: the queue holds at most one job per sequence and every answered job.
 *
 * Every loop is bounded in count and time; only loopback, free ports and temp dirs.
 *
 * Runs on: test process (three node processes).
 */
import { expect } from 'chai';
import { ProtocolConnection, ProtocolError } from '../../src/client/protocol-connection.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';
import { clusterConnection, enqueueWithKeys } from '../support/queue-cluster.js';
import type { ClusterNodes } from '../support/cluster-nodes.js';
import type { ClusterConnection } from '../../src/client/cluster-connection.js';

interface QueueStats { readonly ready: number; readonly leased: number; readonly delayed: number; readonly dead: number }

async function readyIds(connection: ClusterConnection, queue: string): Promise<Set<number>> {
  const ids = new Set<number>();
  let afterId = 0;
  for (let page = 0; page < 100; page += 1) {
    const reply = await connection.call({ type: 'list', queue, state: 'ready', afterId, limit: 1000 }, { idempotent: true });
    for (const job of reply['jobs'] as Array<{ id: number }>) ids.add(job.id);
    const next = reply['nextAfterId'] as number | null;
    if (next === null) return ids;
    afterId = next;
  }
  throw new Error('more than 100 pages of ready jobs');
}

async function statsOf(connection: ClusterConnection, queue: string): Promise<QueueStats> {
  const reply = await connection.call({ type: 'stats', queue }, { idempotent: true });
  return (reply['queues'] as QueueStats[])[0] as QueueStats;
}

async function currentLeader(nodes: ClusterNodes, ids: readonly string[]): Promise<string> {
  return (await nodes.leaderAgreedBy(ids, 20_000)).node;
}

describe('queue attack: crashes under keyed enqueues (three real nodes)', function () {
  this.timeout(120_000);
  const started = startedClusterPerTest({ logLevel: 'warn', extraYaml: 'queue:\n  requestTimeoutMs: 25\n' });

  it('keeps every acknowledged job and one job per key across kill -9, restart, and a second kill, with first attempts timing out', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const firstLeader = await currentLeader(nodes, ids);
    const jobCount = 3_000;
    const producer = clusterConnection(cluster, 30_000);
    let phase = 0;
    let secondKilled = '';
    const enqueued = await enqueueWithKeys(producer, 'crash2', {
      count: jobCount, batch: 20, inflight: 8, prefix: 'k-', timeoutMs: 90_000,
      onAcknowledged: async (total) => {
        if (phase === 0 && total >= jobCount / 3) {
          phase = 1;
          await nodes.kill9(firstLeader);
        } else if (phase === 1 && total >= (2 * jobCount) / 3) {
          phase = 2;
          nodes.start(firstLeader);
          const leader = await currentLeader(nodes, ids);
          const view = await nodes.view(leader);
          await nodes.converged(ids, view?.appliedIndex ?? 1, 30_000);
          secondKilled = (await currentLeader(nodes, ids));
          await nodes.kill9(secondKilled);
        }
      },
    });
    expect(phase, 'both kills happened').to.equal(2);
    console.log(`      (enqueue calls retried: ${producer.retries + enqueued.failedCalls})`);
    const keysWithTwoJobs = [...enqueued.idsByKey].filter(([, jobIds]) => jobIds.size !== 1);
    expect(keysWithTwoJobs.slice(0, 5), `keys answered with more than one job id (${keysWithTwoJobs.length})`).to.deep.equal([]);
    const jobIds = new Set([...enqueued.idsByKey.values()].map((set) => [...set][0] as number));
    expect(jobIds.size, 'distinct jobs').to.equal(jobCount);

    const stats = await statsOf(producer, 'crash2');
    expect(stats, 'the queue holds exactly the acknowledged jobs').to.include({ ready: jobCount, leased: 0, delayed: 0, dead: 0 });
    const ready = await readyIds(producer, 'crash2');
    const missing = [...jobIds].filter((id) => !ready.has(id));
    expect(missing.slice(0, 10), `acknowledged jobs missing (${missing.length})`).to.deep.equal([]);

    // Every key again, after the restarts: the first job, as a duplicate.
    nodes.start(secondKilled);
    for (let first = 0; first < jobCount; first += 500) {
      const keys = Array.from({ length: Math.min(500, jobCount - first) }, (_, at) => `k-${first + at}`);
      const reply = await producer.call({ type: 'enqueue', queue: 'crash2', jobs: keys.map((key) => ({ payload: Buffer.from('again'), idempotencyKey: key })) }, { idempotent: true });
      const answered = reply['jobs'] as Array<{ id: number; duplicate: boolean }>;
      keys.forEach((key, at) => {
        expect(answered[at], `key ${key} again`).to.deep.include({ id: [...(enqueued.idsByKey.get(key) ?? [])][0], duplicate: true });
      });
    }
    const view = await nodes.view(await currentLeader(nodes, ids));
    await nodes.converged(ids, view?.appliedIndex ?? 1, 30_000);
    producer.close();
  });
});

/** One producer session on raw connections: reconnects with its id and resends unanswered sequences. */
class SequencedProducer {
  private connection: ProtocolConnection | undefined;
  constructor(private readonly ports: readonly number[], readonly producerId: string) {}

  async connect(): Promise<ProtocolConnection> {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const port = this.ports[attempt % this.ports.length] as number;
      try {
        const connection = await ProtocolConnection.open({ host: '127.0.0.1', port, connectTimeoutMs: 500 });
        await connection.request({ type: 'hello', protocol: 1, producerId: this.producerId });
        this.connection = connection;
        return connection;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    throw new Error('no node took the producer session');
  }

  close(): void {
    this.connection?.close('done');
  }
}

describe('queue attack: producer sequences across a leader crash (three real nodes)', function () {
  this.timeout(90_000);
  const started = startedClusterPerTest({ logLevel: 'warn' });

  it('makes at most one job per sequence when unanswered enqueues are retried on the new leader', async () => {
    const { nodes, cluster } = started;
    const ids = cluster.nodes.map((node) => node.id);
    const leader = await currentLeader(nodes, ids);
    const others = ids.filter((id) => id !== leader);
    const leaderPort = nodes.node(leader).clientPort;
    const sequences = 400;
    const inflightMax = 8; // the session remembers 8 sequences (producer-sessions.ts)
    const answered = new Map<number, number>();
    const unanswered = new Set<number>();
    const producer = new SequencedProducer([leaderPort], 'attack-producer');
    let connection = await producer.connect();
    let next = 0;
    let killed = false;
    const send = (sequence: number): Promise<void> => connection.request({ type: 'enqueue', queue: 'seq', sequence, jobs: [{ payload: Buffer.from(`s${sequence}`) }] })
      .then((reply) => { answered.set(sequence, ((reply['jobs'] as Array<{ id: number }>)[0] as { id: number }).id); },
        (error: unknown) => { if (error instanceof ProtocolError) unanswered.add(sequence); else throw error; });
    const deadline = Date.now() + 30_000;
    while (next < sequences && !killed && Date.now() < deadline) {
      const window = Array.from({ length: Math.min(inflightMax, sequences - next) }, () => next++);
      const sends = window.map(send);
      if (next >= sequences / 2) {
        killed = true;
        await nodes.kill9(leader);
      }
      await Promise.all(sends);
    }
    expect(killed).to.equal(true);
    expect(unanswered.size, 'enqueues in flight when the leader died').to.be.above(0);
    console.log(`      (sequences unanswered at the kill: ${unanswered.size})`);
    producer.close();
    const newLeader = await currentLeader(nodes, others);
    const resumed = new SequencedProducer([nodes.node(newLeader).clientPort], 'attack-producer');
    connection = await resumed.connect();
    for (let round = 0; round < 200 && (unanswered.size > 0 || next < sequences); round += 1) {
      expect(Date.now() < deadline + 30_000, 'the producer finished in time').to.equal(true);
      if (connection.closed) connection = await resumed.connect();
      const retry = [...unanswered].sort((left, right) => left - right).slice(0, inflightMax);
      for (const sequence of retry) unanswered.delete(sequence);
      const fresh = retry.length > 0 ? [] : Array.from({ length: Math.min(inflightMax, sequences - next) }, () => next++);
      const outcomes = await Promise.all([...retry, ...fresh].map(async (sequence) => {
        try {
          const reply = await connection.request({ type: 'enqueue', queue: 'seq', sequence, jobs: [{ payload: Buffer.from(`s${sequence}`) }] });
          answered.set(sequence, ((reply['jobs'] as Array<{ id: number }>)[0] as { id: number }).id);
          return 'OK';
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          if (error.code === 'FAILED_PRECONDITION') throw new Error(`sequence ${sequence} refused as too old: ${error.message}`, { cause: error });
          unanswered.add(sequence);
          return error.code;
        }
      }));
      if (outcomes.some((outcome) => outcome !== 'OK')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect([...unanswered], 'sequences never answered').to.deep.equal([]);
    expect(answered.size).to.equal(sequences);
    const jobIds = new Set(answered.values());
    expect(jobIds.size, 'distinct jobs over distinct sequences').to.equal(sequences);
    const check = clusterConnection({ ...cluster, nodes: cluster.nodes.filter((node) => node.id !== leader) });
    const stats = await statsOf(check, 'seq');
    expect(stats.ready, 'jobs in the queue: one per sequence').to.equal(sequences);
    const ready = await readyIds(check, 'seq');
    expect([...jobIds].filter((id) => !ready.has(id)), 'answered jobs missing').to.deep.equal([]);
    check.close();
    resumed.close();
  });
});
