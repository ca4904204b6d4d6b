/**
 * The SDK's producer sequences across a leader's death, against two scripted nodes that share one
 * real queue state machine (the log both would have): 20,000 concurrent enqueues whose idempotency
 * keys were all used before, by a fresh client; the leader takes every request the client sends,
 * commits the highest sequence without answering, and dies (kill -9: sockets reset, port closed).
 * The new leader holds the retries until all of them arrived and applies them highest first, the
 * worst order for a session that has seen no sequence yet.
 *
 * What a user relies on: every call resolves with its key's first job (`duplicate: true`), none is
 * refused; at no time is a sequence sent at or beyond *lowest unanswered + 8*. Both against this
 * node's rule and against an older node's rule, which refuses any sequence below the lowest its
 * session remembers (the SDK then keeps one sequence in flight until the session's first answer).
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { startScriptedNode, type Reply, type Request } from '../support/scripted-node.js';
import { waitUntil } from '../support/wait-until.js';
import { isFalconError } from '../../src/errors.js';
import { FalconClient, type EnqueuedJob } from '../../src/client/index.js';
import type { EnqueueResult } from '../../src/queue/results.js';
import { enqueueCommand, QueueDriver } from '../queue/queue-driver.js';

type WireJob = { payload: Uint8Array; idempotencyKey?: string };
type Answer = (reply: Reply) => void;

const keysTotal = 20_000;
/** The protocol's jobs per enqueue (and per entry). */
const jobsPerEnqueueMax = 4096;
const windowSequences = 8;

/** The shared log: keys tour-0.. enqueued long ago, then whatever either leader commits. */
class SharedLog {
  readonly driver = new QueueDriver();
  readonly firstIdOfKey = new Map<string, number>();
  /** Sequences answered to the client, and the lowest not answered when each new sequence first arrived. */
  readonly answered = new Set<number>();
  readonly windowBreaks: string[] = [];
  private readonly seen = new Set<number>();
  /** Sequences of this producer applied (for the older node's rule). */
  private readonly applied = new Set<number>();

  constructor(private readonly olderNodeRule: boolean) {
    for (let first = 0; first < keysTotal; first += jobsPerEnqueueMax) {
      const keys = Array.from({ length: Math.min(jobsPerEnqueueMax, keysTotal - first) }, (_, at) => `tour-${first + at}`);
      const result = this.driver.enqueue('email', keys.map((key) => ({ payload: new Uint8Array(1), key })));
      keys.forEach((key, at) => this.firstIdOfKey.set(key, result.jobs[at]?.id ?? -1));
    }
  }

  /** Notes a sequence the client sent, checking it lies within lowest unanswered + 8. */
  sent(sequence: number): void {
    if (this.seen.has(sequence)) return;
    const unansweredSeen = [...this.seen].filter((seen) => !this.answered.has(seen));
    const lowest = Math.min(sequence, ...unansweredSeen);
    if (sequence >= lowest + windowSequences) this.windowBreaks.push(`${sequence} sent while ${lowest} was unanswered`);
    this.seen.add(sequence);
  }

  /** Applies `request` as the leader's next entry; the reply the node sends. */
  apply(request: Request, producerId: string): Record<string, unknown> {
    const sequence = request['sequence'] as number;
    const remembered = [...this.applied];
    if (this.olderNodeRule && !this.applied.has(sequence) && remembered.length > 0 && sequence < Math.min(...remembered)) {
      return { error: { code: 'FAILED_PRECONDITION', message: `producer ${producerId} sequence ${sequence} is older than the oldest its session remembers (${Math.min(...remembered)})` } };
    }
    const jobs = (request['jobs'] as WireJob[]).map((job) => ({ payload: job.payload, ...(job.idempotencyKey === undefined ? {} : { key: job.idempotencyKey }) }));
    const result = this.driver.one(enqueueCommand(request['queue'] as string, jobs, { producer: { id: producerId, sequence } }));
    if (isFalconError(result)) return { error: { code: result.code, message: result.message, ...(result.detail === undefined ? {} : { detail: result.detail }) } };
    this.applied.add(sequence);
    return { jobs: (result as EnqueueResult).jobs };
  }
}

function helloReply(request: Request, node: string, leader: string): Record<string, unknown> {
  return { protocol: 1, node, leader, producerId: (request['producerId'] as string | undefined) ?? 'p-0475ff24cf79a42ef719fcd2' };
}

async function runFailover(olderNodeRule: boolean): Promise<{ log: SharedLog; answers: Array<EnqueuedJob | undefined>; failures: unknown[] }> {
  const log = new SharedLog(olderNodeRule);
  const takenByOldLeader: Request[] = [];
  const oldLeader = await startScriptedNode((request, { answer }) => {
    if (request.type === 'hello') answer(helloReply(request, 'n1', 'n1'));
    else if (request.type === 'enqueue') {
      log.sent(request['sequence'] as number);
      takenByOldLeader.push(request); // taken, never answered
    }
  });
  const lost = new Set<number>();
  const held: Array<{ request: Request; answer: Answer }> = [];
  const answerFromLog = (request: Request, answer: Answer): void => {
    const reply = log.apply(request, request['producerId'] as string);
    if (reply['jobs'] !== undefined) log.answered.add(request['sequence'] as number);
    answer(reply);
  };
  let producerId = '';
  const newLeader = await startScriptedNode((request, { answer }) => {
    if (request.type === 'hello') {
      producerId = request['producerId'] as string;
      answer(helloReply(request, 'n2', 'n2'));
      return;
    }
    if (request.type !== 'enqueue') return;
    const sequence = request['sequence'] as number;
    log.sent(sequence);
    const withProducer = { ...request, producerId };
    if (!lost.has(sequence)) {
      answerFromLog(withProducer, answer);
      return;
    }
    // Retries of the sequences whose answers died with the old leader: held until all came, then applied highest first.
    held.push({ request: withProducer, answer });
    if (new Set(held.map((entry) => entry.request['sequence'])).size < lost.size) return;
    held.sort((a, b) => (b.request['sequence'] as number) - (a.request['sequence'] as number));
    for (const entry of held.splice(0)) answerFromLog(entry.request, entry.answer);
    lost.clear();
  });

  const client = new FalconClient({ nodes: [`127.0.0.1:${oldLeader.port}`, `127.0.0.1:${newLeader.port}`], deadlineMs: 20_000 });
  try {
    const calls = Array.from({ length: keysTotal }, (_, at) => client.enqueue('email', { to: `user${at}@example.com` }, { idempotencyKey: `tour-${at}` }));
    await waitUntil(() => client.counters.enqueueRequests > 0 && takenByOldLeader.length === client.counters.enqueueRequests, 'the old leader took every request sent', 10_000, 5);
    // The old leader committed its highest sequence (its answer lost with it), then died.
    const sequences = takenByOldLeader.map((request) => request['sequence'] as number);
    const highest = takenByOldLeader.find((request) => request['sequence'] === Math.max(...sequences)) as Request;
    log.apply(highest, client.producerId ?? '');
    for (const sequence of sequences) lost.add(sequence);
    await oldLeader.kill();
    const failures: unknown[] = [];
    const answers = await Promise.all(calls.map((call) => call.catch((error: unknown) => {
      failures.push(error);
      return undefined;
    })));
    return { log, answers, failures };
  } finally {
    await client.close();
    await newLeader.kill();
  }
}

describe('SDK producer sequences across a leader killed mid-stream (scripted nodes, one real state machine)', function () {
  this.timeout(60_000);

  for (const olderNodeRule of [false, true]) {
    const node = olderNodeRule ? "an older node's rule (any sequence below the lowest remembered refused)" : "this node's rule";
    it(`resolves all 20,000 duplicate-keyed enqueues with their first jobs when the retries are applied highest first, under ${node}`, async () => {
      const { log, answers, failures } = await runFailover(olderNodeRule);
      expect(failures.map(String).slice(0, 3), `${failures.length} calls rejected`).to.deep.equal([]);
      const wrong = answers.filter((answer, at) => answer?.duplicate !== true || answer.id !== log.firstIdOfKey.get(`tour-${at}`));
      expect(wrong.slice(0, 3), `${wrong.length} calls answered another job`).to.deep.equal([]);
      expect(log.windowBreaks).to.deep.equal([]);
      expect(log.driver.machine.counters.jobs, 'no job made twice').to.equal(keysTotal);
    });
  }
});
