/**
 * Requests become the queue's commands with the defaults docs/protocol.md promises, and results
 * become the replies the protocol declares: content types by name, no `undefined` on the wire,
 * errors in the error envelope.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { falconError, isFalconError } from '../../src/errors.js';
import type { JobDefaults, QueueLimits } from '../../src/queue/commands.js';
import type { JobView } from '../../src/queue/results.js';
import {
  commandOfRequest, contentTypeCodeOf, contentTypeOf, getReply, isCommandRequest, replyOfCommandResult, type CommandContext, type CommandRequest,
} from '../../src/protocol/client-commands.js';
import { checkClientReply } from '../../src/protocol/client-validation.js';
import { exampleRequests } from './client-examples.js';

const defaults: JobDefaults = { attemptsMax: 5, leaseMs: 30_000, backoff: { kind: 'exponential', delayMs: 1000, delayMsMax: 60_000, jitterRatio: 0.2 } };
const limits: QueueLimits = {
  jobsPerQueueMax: 1e6, bytesPerQueueMax: 1e9, queuesMax: 1000, idempotencyKeysMax: 1e6, dedupWindowMs: 86_400_000,
  completedRetentionMs: 3_600_000, completedPerQueueMax: 10_000, producersMax: 10_000,
};
const context: CommandContext = { defaults, limits, leaseMsDefault: 30_000, producerId: 'p1', jitter: 0.25, pullBytesMax: 1_048_576 };

function command(request: CommandRequest, overrides: Partial<CommandContext> = {}): unknown {
  return commandOfRequest(request, { ...context, ...overrides });
}

describe('client requests as queue commands', () => {
  it('content types map to their stored codes and back', () => {
    for (const name of ['application/octet-stream', 'application/json', 'application/msgpack'] as const) {
      expect(contentTypeOf(contentTypeCodeOf(name))).to.equal(name);
    }
  });

  it('an enqueue carries only what the request set, its content type as a code, its key and its producer stamp', () => {
    const payload = new Uint8Array([1]);
    expect(command({ id: 1, type: 'enqueue', queue: 'q', sequence: 3, jobs: [
      { payload },
      { payload, contentType: 'application/json', priority: 4, idempotencyKey: 'k', backoff: { kind: 'fixed', delayMs: 500 } },
    ] })).to.deep.equal({
      type: 'enqueue', queue: 'q', defaults, limits, producer: { id: 'p1', sequence: 3 },
      jobs: [{ payload }, { payload, contentType: 1, priority: 4, key: 'k', backoff: { kind: 'fixed', delayMs: 500, delayMsMax: 60_000, jitterRatio: 0.2 } }],
    });
  });

  it('an enqueue with a sequence on a connection without a producer session is FAILED_PRECONDITION', () => {
    const refused = command({ id: 1, type: 'enqueue', queue: 'q', sequence: 3, jobs: [{ payload: new Uint8Array(1) }] }, { producerId: undefined });
    expect(isFalconError(refused) && refused.code).to.equal('FAILED_PRECONDITION');
  });

  it('pull, nack, extend and redrive take the documented defaults', () => {
    expect(command({ id: 1, type: 'pull', queue: 'q', jobsMax: 3 })).to.deep.equal({ type: 'lease', queue: 'q', jobsMax: 3, bytesMax: 1_048_576, leaseMs: 30_000, workerId: '' });
    expect(command({ id: 1, type: 'nack', jobId: 9, token: 4 })).to.deep.equal({ type: 'nack', jobId: 9, token: 4, error: '', retryable: true, jitter: 0.25 });
    expect(command({ id: 1, type: 'extend', jobId: 9, token: 4 })).to.deep.equal({ type: 'extend', jobId: 9, token: 4, leaseMs: 30_000 });
    expect(command({ id: 1, type: 'redrive', queue: 'q' })).to.deep.equal({ type: 'redrive', queue: 'q', jobsMax: 4096 });
    // The command a TTL expiry proposes, with its own reason; the seed is the leader's jitter draw.
    const release = command({ id: 1, type: 'unregister', workerId: 'w1' });
    expect(release).to.deep.include({ type: 'releaseWorker', workerId: 'w1', reason: 'goodbye' });
    expect(Number.isSafeInteger((release as { jitterSeed: number }).jitterSeed)).to.equal(true);
  });

  it('every request but hello, get, list, stats and heartbeat is a command', () => {
    const reads = exampleRequests.filter((request) => !isCommandRequest(request)).map((request) => request.type);
    expect([...new Set(reads)].sort()).to.deep.equal(['get', 'heartbeat', 'hello', 'list', 'stats']);
    for (const request of exampleRequests.filter(isCommandRequest)) expect(isFalconError(command(request))).to.equal(false);
  });

  it('results become the replies their requests declare, and an error the error envelope', () => {
    const pull: CommandRequest = { id: 5, type: 'pull', queue: 'q', jobsMax: 1 };
    const leased = replyOfCommandResult(pull, { type: 'leased', jobs: [{ id: 4097, queue: 'q', payload: new Uint8Array(2), contentType: 2, priority: 0, attempt: 1, attemptsMax: 5, token: 12, deadlineMs: 9, enqueuedAtMs: 1 }] }, 5000);
    const checked = checkClientReply(leased, 'pull');
    if (isFalconError(checked) || 'error' in checked) expect.fail(JSON.stringify(checked));
    expect(checked.jobs[0]?.contentType).to.equal('application/msgpack');
    expect(replyOfCommandResult({ id: 6, type: 'register', workerId: 'w', queues: ['q'], capacity: 1 }, { type: 'done' }, 5000)).to.deep.equal({ id: 6, ttlMs: 5000 });
    expect(replyOfCommandResult({ id: 8, type: 'unregister', workerId: 'w' }, { type: 'counted', jobs: 3 }, 5000)).to.deep.equal({ id: 8, jobs: 3 });
    expect(replyOfCommandResult({ id: 7, type: 'ack', jobId: 1, token: 2 }, falconError('LEASE_LOST', 'token 2 is stale'), 5000))
      .to.deep.equal({ id: 7, error: { code: 'LEASE_LOST', message: 'token 2 is stale' } });
    expect(() => replyOfCommandResult({ id: 7, type: 'ack', jobId: 1, token: 2 }, { type: 'done' }, 5000)).to.throw('the result of ack 7 is done');
  });

  it('a job view becomes get\'s reply with no undefined field', () => {
    const view: JobView = {
      id: 1, queue: 'q', state: 'ready', priority: 0, payload: new Uint8Array(1), contentType: 0, attempts: 0, attemptsMax: 5,
      runAtMs: 1, enqueuedAtMs: 1, updatedAtMs: 1, key: undefined, history: [{ state: 'ready', atMs: 1, reason: undefined }],
    };
    const reply = getReply(3, view);
    expect(JSON.stringify(reply, (_k, v: unknown) => (v === undefined ? 'UNDEFINED' : v))).not.to.contain('UNDEFINED');
    expect(reply.job.contentType).to.equal('application/octet-stream');
    expect(isFalconError(checkClientReply(reply, 'get'))).to.equal(false);
  });
});
