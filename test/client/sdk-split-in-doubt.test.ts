/**
 * A batch refused for one job's field after an attempt of it may have been applied, against two
 * scripted nodes that share one real queue state machine (the log both would have) and judge
 * payload sizes differently (another `payloadBytesMax`, as during a rolling change): node A takes
 * an enqueue of jobs [a, b, c] under sequence s and the connection is cut before its reply (A
 * applied it, or not); node B, leading now, refuses b's payload as too large at intake, as a real
 * node does, before the producer session is consulted.
 *
 * What a user relies on: every job is created at most once and every call that resolves names its
 * job; when A applied s, every call resolves (b too: it was added); when it did not, b fails with
 * PayloadTooLargeError and the others resolve. Also with two successive field refusals.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { decode } from '../../src/codec/msgpack.js';
import { isFalconError } from '../../src/errors.js';
import { FalconClient, PayloadTooLargeError, type EnqueuedJob } from '../../src/client/index.js';
import type { EnqueueResult } from '../../src/queue/results.js';
import { enqueueCommand, QueueDriver } from '../queue/queue-driver.js';
import { startScriptedNode, type Reply, type Request } from '../support/scripted-node.js';

type WireJob = { payload: Uint8Array };

/** Node A's payload bound (the client's default) and node B's, below the big jobs' payloads. */
const payloadBytesMaxA = 1024 * 1024;
const payloadBytesMaxB = 1024;
const bigPayloadBytes = 4096;
const producerId = 'p-split';

/** The shared log: whatever either node applies, through the real state machine. */
class SharedLog {
  readonly driver = new QueueDriver();

  /** A node's handling of an enqueue: its intake's field check with its own bound, then the state machine. */
  enqueue(request: Request, payloadBytesMax: number): Reply {
    const jobs = request['jobs'] as WireJob[];
    const tooLarge = jobs.findIndex((job) => job.payload.byteLength > payloadBytesMax);
    if (tooLarge >= 0) {
      const field = `jobs[${tooLarge}].payload`;
      const payloadBytes = jobs[tooLarge]?.payload.byteLength ?? 0;
      return { error: { code: 'PAYLOAD_TOO_LARGE', message: `${field} holds ${payloadBytes} bytes, above queue.payloadBytesMax (${payloadBytesMax} bytes)`, detail: { field, payloadBytes, payloadBytesMax } } };
    }
    const producer = { id: producerId, sequence: request['sequence'] as number, ...(request['retry'] === true ? { retry: true as const } : {}) };
    const result = this.driver.one(enqueueCommand(request['queue'] as string, jobs.map((job) => ({ payload: job.payload })), { producer }));
    if (isFalconError(result)) return { error: { code: result.code, message: result.message, ...(result.detail === undefined ? {} : { detail: result.detail }) } };
    return { jobs: (result as EnqueueResult).jobs };
  }

  /** Every job's id by the marker its payload carries (a big payload: the marker, then padding). */
  jobsByMarker(): Map<string, number[]> {
    const byMarker = new Map<string, number[]>();
    const { machine } = this.driver;
    for (const { id } of machine.listJobs('split', 'ready', 0, 1000).jobs) {
      const marker = (decode(Buffer.from(machine.getJob(id)?.payload ?? [])) as { marker: string }).marker;
      byMarker.set(marker, [...(byMarker.get(marker) ?? []), id]);
    }
    return byMarker;
  }
}

function hello(node: string): Reply {
  return { protocol: 1, node, leader: node, producerId };
}

interface Outcome {
  readonly log: SharedLog;
  readonly settled: Map<string, EnqueuedJob | Error>;
  /** The (sequence, jobs) of every enqueue node B received. */
  readonly atB: Array<[number, number]>;
}

/**
 * A warm-up enqueue answered by A (the session's first sequence), then one batch of `markers` (the
 * `big` ones above B's bound) under the next sequence, which A applies or not (`appliedByA`) before
 * it cuts the connection and dies; B leads from then on.
 */
async function runSplit(markers: readonly string[], big: ReadonlySet<string>, appliedByA: boolean): Promise<Outcome> {
  const log = new SharedLog();
  const nodeA = await startScriptedNode((request) => {
    if (request.type === 'hello') return hello('A');
    if (request.type !== 'enqueue') return { error: { code: 'INVALID_ARGUMENT', message: 'not scripted' } };
    if (request['sequence'] === 0) return log.enqueue(request, payloadBytesMaxA);
    if (appliedByA) log.enqueue(request, payloadBytesMaxA); // committed; its reply is lost with A
    return 'die';
  });
  const nodeB = await startScriptedNode((request) => {
    if (request.type === 'hello') return hello('B');
    return log.enqueue(request, payloadBytesMaxB);
  });
  const client = new FalconClient({ nodes: [`127.0.0.1:${nodeA.port}`, `127.0.0.1:${nodeB.port}`], deadlineMs: 10_000 });
  const settled = new Map<string, EnqueuedJob | Error>();
  try {
    await client.enqueue('split', { marker: 'warm-up' });
    const payloadOf = (marker: string): Record<string, unknown> => (big.has(marker) ? { marker, pad: 'x'.repeat(bigPayloadBytes) } : { marker });
    const calls = markers.map((marker) => client.enqueue('split', payloadOf(marker)).then(
      (job) => settled.set(marker, job), (error: Error) => settled.set(marker, error)));
    await Promise.all(calls);
  } finally {
    await client.close();
    await nodeA.kill().catch(() => undefined);
    await nodeB.kill();
  }
  const atB = nodeB.requests.filter((request) => request.type === 'enqueue')
    .map((request): [number, number] => [request['sequence'] as number, (request['jobs'] as unknown[]).length]);
  return { log, settled, atB };
}

/** Each marker made at most once, and every resolved call names its marker's job. */
function expectSingleJobs({ log, settled }: Outcome, markers: readonly string[]): Map<string, number[]> {
  const jobs = log.jobsByMarker();
  expect([...jobs].filter(([, ids]) => ids.length > 1), 'markers with two jobs').to.deep.equal([]);
  for (const marker of markers) {
    const outcome = settled.get(marker);
    if (!(outcome instanceof Error)) expect(jobs.get(marker), `the job ${marker} resolved with`).to.deep.equal([outcome?.id]);
  }
  return jobs;
}

describe('SDK: a batch refused for one job while an earlier attempt may have been applied (scripted nodes, one real state machine)', function () {
  this.timeout(30_000);
  const markers = ['a', 'b', 'c'];

  it('resolves a, b and c with their one job each when the old leader applied the batch and the new one refuses b\'s size', async () => {
    const outcome = await runSplit(markers, new Set(['b']), true);
    const jobs = expectSingleJobs(outcome, markers);
    expect([...outcome.settled].filter(([, result]) => result instanceof Error).map(String), 'rejected calls').to.deep.equal([]);
    for (const marker of markers) expect(jobs.get(marker), marker).to.have.length(1);
    expect(outcome.log.driver.machine.counters.jobs, 'warm-up, a, b, c').to.equal(4);
    expect(outcome.atB, 'the same sequence, as a retry, without b').to.deep.equal([[1, 3], [1, 2]]);
  });

  it('fails b with PayloadTooLargeError and resolves a and c once each when the old leader never applied the batch', async () => {
    const outcome = await runSplit(markers, new Set(['b']), false);
    const jobs = expectSingleJobs(outcome, markers);
    expect(outcome.settled.get('b')).to.be.instanceOf(PayloadTooLargeError);
    expect((outcome.settled.get('b') as PayloadTooLargeError).detail?.['field']).to.equal('payload');
    expect(jobs.has('b')).to.equal(false);
    expect(jobs.get('a')).to.have.length(1);
    expect(jobs.get('c')).to.have.length(1);
  });

  for (const appliedByA of [true, false]) {
    it(`settles two successive field refusals by the set applied, when the old leader ${appliedByA ? 'applied' : 'never applied'} the batch`, async () => {
      const fourMarkers = ['a', 'b', 'c', 'd'];
      const outcome = await runSplit(fourMarkers, new Set(['b', 'd']), appliedByA);
      const jobs = expectSingleJobs(outcome, fourMarkers);
      expect(outcome.atB, 'one sequence, shrinking').to.deep.equal([[1, 4], [1, 3], [1, 2]]);
      if (appliedByA) {
        expect([...outcome.settled].filter(([, result]) => result instanceof Error).map(String), 'rejected calls').to.deep.equal([]);
        expect(jobs.size, 'warm-up, a, b, c, d').to.equal(5);
      } else {
        expect(outcome.settled.get('b')).to.be.instanceOf(PayloadTooLargeError);
        expect(outcome.settled.get('d')).to.be.instanceOf(PayloadTooLargeError);
        expect([...jobs.keys()].sort()).to.deep.equal(['a', 'c', 'warm-up']);
      }
    });
  }
});
