/**
 * The SDK's pieces without a cluster: how payloads are encoded (and decoded for handlers), how a
 * job's options are checked against the protocol's bounds, how error replies become typed errors,
 * and how the enqueue batcher coalesces calls, keeps its sequence window, and fails only the call
 * that owns a refused job. The batcher runs over a scripted transport that records every request.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { decode } from '../../src/codec/msgpack.js';
import type { RequestAttempts } from '../../src/client/cluster-connection.js';
import { EnqueueBatcher, type EnqueueTransport } from '../../src/client/enqueue-batcher.js';
import {
  DeadlineExceededError, FailedPreconditionError, InternalError, InvalidArgumentError, LeaseLostError, NotFoundError, NotLeaderError,
  PayloadTooLargeError, PermissionDeniedError, ProtocolError, ResourceExhaustedError, UnauthenticatedError, UnavailableError, errorOfReply,
} from '../../src/client/errors.js';
import { decodePayload } from '../../src/client/job-handler.js';
import { encodePayload, wireJobOf, type WireJob } from '../../src/client/job-options.js';
import { FalconClient, nodeAddressOf } from '../../src/client/index.js';

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('SDK payload encoding', () => {
  it('sends values as MessagePack, bytes as they are, and JSON when asked; a handler gets the value back', () => {
    const value = { to: 'a@b.c', tags: ['x', 'y'], n: 3, nested: { ok: true } };
    const packed = encodePayload(value, undefined);
    expect(packed.contentType).to.equal('application/msgpack');
    expect(decode(packed.bytes)).to.deep.equal(value);
    expect(decodePayload(packed.bytes, packed.contentType)).to.deep.equal(value);

    const bytes = Buffer.from([0, 1, 2, 255]);
    const raw = encodePayload(bytes, undefined);
    expect(raw).to.deep.equal({ bytes, contentType: 'application/octet-stream' });
    expect(decodePayload(raw.bytes, raw.contentType)).to.equal(bytes);

    const json = encodePayload(value, 'application/json');
    expect(json.contentType).to.equal('application/json');
    expect(Buffer.from(json.bytes).toString('utf8')).to.equal(JSON.stringify(value));
    expect(decodePayload(json.bytes, json.contentType)).to.deep.equal(value);

    expect(decode(encodePayload('text', undefined).bytes)).to.equal('text');
    expect(decode(encodePayload(null, undefined).bytes)).to.equal(null);
  });

  it('refuses what cannot be encoded, naming the field', () => {
    for (const [payload, contentType] of [[undefined, undefined], [() => 1, undefined], [{ a: 1 }, 'application/octet-stream'], [Symbol('s'), 'application/json']] as const) {
      const error = (() => { try { encodePayload(payload, contentType); } catch (thrown) { return thrown; } return undefined; })();
      expect(error, String(payload)).to.be.instanceOf(InvalidArgumentError);
      expect((error as ProtocolError).detail).to.deep.equal({ field: 'payload' });
      expect((error as ProtocolError).sent).to.equal(false);
    }
  });

  it("checks a job's options against the protocol's bounds", () => {
    const ok = wireJobOf({ n: 1 }, { priority: -5, delayMs: 0, attemptsMax: 1000, leaseMs: 1, idempotencyKey: 'order-1', backoff: { kind: 'exponential', delayMs: 10, delayMsMax: 100, jitterRatio: 0.5 } }, 1024);
    expect(ok).to.include({ priority: -5, attemptsMax: 1000, idempotencyKey: 'order-1', contentType: 'application/msgpack' });
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ priority: 2 ** 31 }, 'jobs[2].priority', 'InvalidArgumentError'],
      [{ priority: 1.5 }, 'jobs[2].priority', 'InvalidArgumentError'],
      [{ delayMs: -1 }, 'jobs[2].delayMs', 'InvalidArgumentError'],
      [{ attemptsMax: 0 }, 'jobs[2].attemptsMax', 'InvalidArgumentError'],
      [{ leaseMs: 86_400_001 }, 'jobs[2].leaseMs', 'InvalidArgumentError'],
      [{ idempotencyKey: 'a\nb' }, 'jobs[2].idempotencyKey', 'InvalidArgumentError'],
      [{ idempotencyKey: 'k'.repeat(257) }, 'jobs[2].idempotencyKey', 'InvalidArgumentError'],
      [{ backoff: { kind: 'linear', delayMs: 1 } }, 'jobs[2].backoff.kind', 'InvalidArgumentError'],
      [{ backoff: { kind: 'fixed', delayMs: 10, delayMsMax: 5 } }, 'jobs[2].backoff.delayMsMax', 'InvalidArgumentError'],
      [{ backoff: { kind: 'fixed', delayMs: 10, jitterRatio: 2 } }, 'jobs[2].backoff.jitterRatio', 'InvalidArgumentError'],
    ];
    for (const [options, field, name] of cases) {
      const error = (() => { try { wireJobOf(1, options, 1024, 'jobs[2]'); } catch (thrown) { return thrown as ProtocolError; } return undefined; })();
      expect(error?.name, JSON.stringify(options)).to.equal(name);
      expect(error?.detail?.['field'], JSON.stringify(options)).to.equal(field);
    }
    const tooLarge = (() => { try { wireJobOf(Buffer.alloc(1025), {}, 1024); } catch (thrown) { return thrown as ProtocolError; } return undefined; })();
    expect(tooLarge).to.be.instanceOf(PayloadTooLargeError);
    expect(tooLarge?.detail).to.deep.equal({ field: 'payload', payloadBytes: 1025, payloadBytesMax: 1024 });
  });

  it('reads node addresses as host:port strings or maps', () => {
    expect(nodeAddressOf('127.0.0.1:7201')).to.deep.equal({ host: '127.0.0.1', port: 7201 });
    expect(nodeAddressOf('[::1]:7202')).to.deep.equal({ host: '::1', port: 7202 });
    expect(nodeAddressOf({ host: 'h', port: 1 })).to.deep.equal({ host: 'h', port: 1 });
    expect(() => nodeAddressOf('nohost')).to.throw(InvalidArgumentError);
    expect(() => nodeAddressOf('h:70000')).to.throw(InvalidArgumentError);
    expect(() => new FalconClient({ nodes: [] })).to.throw(InvalidArgumentError);
  });

  it('refuses malformed worker options before connecting', () => {
    const client = new FalconClient({ nodes: ['127.0.0.1:1'] });
    const handler = async (): Promise<undefined> => undefined;
    expect(() => client.worker('q', handler, { concurrency: 0 })).to.throw(InvalidArgumentError, /concurrency/);
    expect(() => client.worker('q', handler, { leaseMs: 1.5 })).to.throw(InvalidArgumentError, /leaseMs/);
    expect(() => client.worker('q', handler, { handlerModule: '/x.js' })).to.throw(InvalidArgumentError, /not both/);
    expect(() => client.worker('', handler)).to.throw(InvalidArgumentError, /queue/);
  });
});

describe('SDK error mapping', () => {
  it('gives each protocol code its class, all ProtocolErrors, keeping leader and detail', () => {
    const classes = {
      INVALID_ARGUMENT: InvalidArgumentError, NOT_FOUND: NotFoundError, NOT_LEADER: NotLeaderError, UNAVAILABLE: UnavailableError,
      RESOURCE_EXHAUSTED: ResourceExhaustedError, LEASE_LOST: LeaseLostError, PAYLOAD_TOO_LARGE: PayloadTooLargeError,
      FAILED_PRECONDITION: FailedPreconditionError, UNAUTHENTICATED: UnauthenticatedError, PERMISSION_DENIED: PermissionDeniedError, INTERNAL: InternalError,
    } as const;
    for (const [code, errorClass] of Object.entries(classes)) {
      const error = errorOfReply({ code, message: `about ${code}` });
      expect(error, code).to.be.instanceOf(errorClass);
      expect(error, code).to.be.instanceOf(ProtocolError);
      expect(error, code).to.be.instanceOf(Error);
      expect(error).to.include({ code, message: `about ${code}`, name: errorClass.name });
    }
    const notLeader = errorOfReply({ code: 'NOT_LEADER', message: 'go there', leader: { id: 'n2', host: '127.0.0.1', clientPort: 7202 } });
    expect(notLeader.leader).to.deep.equal({ id: 'n2', host: '127.0.0.1', clientPort: 7202 });
    const invalid = errorOfReply({ code: 'INVALID_ARGUMENT', message: 'bad', detail: { field: 'jobs[3].priority', nested: { dropped: true } } });
    expect(invalid.detail).to.deep.equal({ field: 'jobs[3].priority' });
    const unknown = errorOfReply({ code: 'SOMETHING_NEW', message: 'from a newer node' });
    expect(unknown.constructor).to.equal(ProtocolError);
    expect(unknown.code).to.equal('SOMETHING_NEW');
    expect(errorOfReply('not a map')).to.be.instanceOf(InternalError);
    // The older positional constructor still works.
    expect(new ProtocolError('NOT_LEADER', 'm', { id: 'n1', host: 'h', clientPort: 1 }, false)).to.include({ sent: false, code: 'NOT_LEADER' });
  });
});

interface ScriptedRequest {
  readonly body: { readonly queue: string; readonly jobs: readonly WireJob[]; readonly sequence: number };
  readonly answer: (reply: Record<string, unknown>) => void;
  readonly fail: (error: ProtocolError) => void;
  /** What the transport's later attempts of the request would send (`nextBody`). */
  readonly attempts: RequestAttempts;
}

/** A transport that records requests and answers them when the test says. */
function scriptedTransport(): EnqueueTransport & { requests: ScriptedRequest[]; answerAll: () => void } {
  let nextId = 1;
  const requests: ScriptedRequest[] = [];
  const okReply = (request: ScriptedRequest): Record<string, unknown> => ({
    jobs: request.body.jobs.map(() => ({ id: nextId++, state: 'ready', duplicate: false })),
  });
  return {
    requests,
    call(body, { attempts }) {
      // Handed over until the test answers or fails it: the node's answer either way.
      attempts.inFlight = true;
      const answered = (): void => { attempts.inFlight = false; };
      return new Promise((resolve, reject) => requests.push({
        body: body as unknown as ScriptedRequest['body'],
        answer: (reply) => { answered(); resolve(reply); },
        fail: (error) => { answered(); reject(error); },
        attempts,
      }));
    },
    answerAll() {
      for (const request of requests.splice(0)) request.answer(okReply(request));
    },
  };
}

function job(n: number): WireJob {
  return { payload: Buffer.from([n]) };
}

describe('SDK enqueue batching', () => {
  it('sends the calls made together as one request, each call getting its own ids', async () => {
    const transport = scriptedTransport();
    const batcher = new EnqueueBatcher({ transport });
    const calls = Array.from({ length: 300 }, (_, n) => batcher.submit('q', [job(n)], Date.now() + 10_000, false));
    await turn();
    expect(transport.requests).to.have.length(1);
    expect(transport.requests[0]?.body.jobs).to.have.length(300);
    expect(transport.requests[0]?.body.sequence).to.equal(0);
    transport.answerAll();
    const answers = await Promise.all(calls);
    expect(new Set(answers.map((answer) => answer[0]?.id)).size).to.equal(300);
    expect(answers.map((answer) => answer[0]?.id)).to.deep.equal(Array.from({ length: 300 }, (_, n) => n + 1));
  });

  it('keeps at most 8 sequences unanswered, within 8 of the lowest, and coalesces the calls that wait', async () => {
    const transport = scriptedTransport();
    const batcher = new EnqueueBatcher({ transport });
    const opening = batcher.submit('q', [job(99)], Date.now() + 10_000, false);
    await turn();
    transport.answerAll();
    await opening;
    const calls: Array<Promise<unknown>> = [];
    for (let n = 0; n < 20; n += 1) {
      calls.push(batcher.submit('q', [job(n)], Date.now() + 10_000, false));
      await turn();
    }
    expect(transport.requests.map((request) => request.body.sequence)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    // Sequences 2..8 answered, 1 not: a new sequence would be 8 above the one still unknown.
    const [first, ...rest] = transport.requests.splice(0);
    for (const request of rest) request.answer({ jobs: [{ id: request.body.sequence + 100, state: 'ready', duplicate: false }] });
    await turn();
    await turn();
    expect(transport.requests, 'nothing sent while sequence 1 is unanswered').to.have.length(0);
    expect(batcher.sequencesInFlight).to.equal(1);
    first?.answer({ jobs: [{ id: 101, state: 'ready', duplicate: false }] });
    await turn();
    await turn();
    expect(transport.requests.map((request) => [request.body.sequence, request.body.jobs.length])).to.deep.equal([[9, 12]]);
    transport.answerAll();
    expect(await Promise.all(calls)).to.have.length(20);
    expect(batcher.counters).to.include({ calls: 21, requests: 10 });
  });

  it('marks the resends of a sequence retry once a later one was sent: they must not open a session below it (docs/protocol.md §6)', async () => {
    const transport = scriptedTransport();
    const batcher = new EnqueueBatcher({ transport });
    const opening = batcher.submit('q', [job(0)], Date.now() + 10_000, false);
    await turn();
    transport.answerAll();
    await opening;
    const earlier = batcher.submit('q', [job(1)], Date.now() + 10_000, false);
    await turn();
    const [first] = transport.requests;
    expect(first?.attempts.nextBody['retry'], 'alone in flight: a resend after NOT_LEADER is a first attempt').to.equal(undefined);
    const later = batcher.submit('q', [job(2)], Date.now() + 10_000, false);
    await turn();
    expect(transport.requests.map((request) => [request.body.sequence, request.attempts.nextBody['retry']]), 'sequence 1 after 2 was sent')
      .to.deep.equal([[1, true], [2, undefined]]);
    expect(first?.attempts.nextBody['jobs'], 'the same jobs').to.deep.equal(first?.body.jobs);
    transport.answerAll();
    expect(await Promise.all([earlier, later])).to.have.length(2);
  });

  it("sends one sequence until the session's first answer, even after a refused one, then opens the window", async () => {
    const transport = scriptedTransport();
    const batcher = new EnqueueBatcher({ transport, jobsPerRequestMax: 2 });
    const refusedCall = batcher.submit('q', [job(0), job(1)], Date.now() + 10_000, true);
    const calls = Array.from({ length: 10 }, (_, n) => batcher.submit('q', [job(n + 2), job(n + 12)], Date.now() + 10_000, true));
    await turn();
    expect(transport.requests.map((request) => request.body.sequence), 'one request before any answer').to.deep.equal([0]);
    transport.requests.splice(0)[0]?.fail(new PermissionDeniedError('produce only'));
    expect(await rejection(refusedCall)).to.be.instanceOf(PermissionDeniedError);
    await turn();
    expect(transport.requests.map((request) => request.body.sequence), 'a refusal opens nothing').to.deep.equal([1]);
    transport.answerAll();
    await turn();
    await turn();
    expect(transport.requests.map((request) => request.body.sequence), 'the window after the first answer').to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batcher.sequencesInFlight).to.equal(8);
    transport.answerAll();
    await turn();
    await turn();
    transport.answerAll();
    expect(await Promise.all(calls)).to.have.length(10);
  });

  it('rejects a sequence the node can no longer tell (FAILED_PRECONDITION) with UnavailableError: the outcome is unknown', async () => {
    const transport = scriptedTransport();
    const batcher = new EnqueueBatcher({ transport });
    const calls = [batcher.submit('q', [job(0)], Date.now() + 10_000, false), batcher.submit('q', [job(1), job(2)], Date.now() + 10_000, true)];
    await turn();
    const refusal = new FailedPreconditionError('producer p-1 sequence 0 is older than the oldest its session remembers (2)', { detail: { field: 'sequence', oldestSequence: 2 } });
    transport.requests.splice(0)[0]?.fail(refusal);
    for (const call of calls) {
      const error = await rejection(call) as ProtocolError;
      expect(error).to.be.instanceOf(UnavailableError);
      expect(error.message).to.match(/^enqueue outcome unknown: .*sequence 0.*may exist once or not at all/);
      expect(error.cause).to.equal(refusal);
      expect(error).to.include({ sent: true, code: 'UNAVAILABLE' });
      expect(error.detail).to.deep.equal({ field: 'sequence', oldestSequence: 2, sequence: 0 });
    }
  });

  it("fails only the call that owns a refused job and sends the others again under a new sequence", async () => {
    const transport = scriptedTransport();
    const batcher = new EnqueueBatcher({ transport });
    const before = batcher.submit('q', [job(0), job(1)], Date.now() + 10_000, true);
    const bad = batcher.submit('q', [job(2), job(3), job(4)], Date.now() + 10_000, true);
    const single = batcher.submit('q', [job(5)], Date.now() + 10_000, false);
    await turn();
    const [request] = transport.requests.splice(0);
    expect(request?.body.jobs).to.have.length(6);
    request?.fail(new InvalidArgumentError('enqueue: jobs[3].priority must be an integer', { detail: { field: 'jobs[3].priority' } }));
    const error = await rejection(bad) as ProtocolError;
    expect(error).to.be.instanceOf(InvalidArgumentError);
    expect(error.detail).to.deep.equal({ field: 'jobs[1].priority' });
    expect(error.message).to.equal('enqueue: jobs[1].priority must be an integer');
    await turn();
    const [resent] = transport.requests;
    expect(resent?.body.sequence).to.equal(1);
    expect(resent?.body.jobs.map((wire) => wire.payload[0])).to.deep.equal([0, 1, 5]);
    transport.answerAll();
    expect((await before).map((answer) => answer.id)).to.have.length(2);
    expect(await single).to.have.length(1);
    expect(batcher.counters.splits).to.equal(1);
  });

  it('drops a call whose deadline passes before any attempt left (sent: false, its jobs out of the next attempt), and keeps one whose batch may have (sent: true)', async () => {
    let attempts: RequestAttempts | undefined;
    let finish: ((reply: Record<string, unknown>) => void) | undefined;
    const transport: EnqueueTransport = {
      call(_body, options) {
        attempts = options.attempts;
        return new Promise((resolve) => { finish = resolve; });
      },
    };
    const batcher = new EnqueueBatcher({ transport });
    const early = batcher.submit('q', [job(0)], Date.now() + 20, false);
    const middle = batcher.submit('q', [job(1)], Date.now() + 60, false);
    const patient = batcher.submit('q', [job(2)], Date.now() + 10_000, false);
    // No connection yet: nothing left the client when the early call's deadline passes.
    const dropped = await rejection(early) as ProtocolError;
    expect(dropped).to.be.instanceOf(DeadlineExceededError);
    expect(dropped.sent).to.equal(false);
    expect((attempts?.body['jobs'] as WireJob[]).map((wire) => wire.payload[0])).to.deep.equal([1, 2]);
    // Now an attempt is on the wire: the middle call stays in the request and may still be added.
    if (attempts !== undefined) attempts.inFlight = true;
    const kept = await rejection(middle) as ProtocolError;
    expect(kept).to.be.instanceOf(DeadlineExceededError);
    expect(kept.sent).to.equal(true);
    expect((attempts?.body['jobs'] as WireJob[]).map((wire) => wire.payload[0])).to.deep.equal([1, 2]);
    finish?.({ jobs: [{ id: 11, state: 'ready', duplicate: false }, { id: 12, state: 'ready', duplicate: false }] });
    expect((await patient).map((answer) => answer.id)).to.deep.equal([12]);
  });

  it('fails every call of a request refused for no single job, and a call that waited past its deadline alone', async () => {
    const transport = scriptedTransport();
    // The batcher's clock, moved by hand: the late call's deadline passes while it waits for the slot.
    let nowMs = 1_000_000;
    const batcher = new EnqueueBatcher({ transport, sequencesInFlightMax: 1, now: () => nowMs });
    const a = batcher.submit('q', [job(0)], nowMs + 10_000, false);
    await turn();
    const late = batcher.submit('q', [job(1)], nowMs + 20, false);
    nowMs += 40;
    transport.requests.splice(0)[0]?.fail(new PermissionDeniedError('produce only'));
    expect(await rejection(a)).to.be.instanceOf(PermissionDeniedError);
    const expired = await rejection(late) as ProtocolError;
    expect(expired).to.be.instanceOf(DeadlineExceededError);
    expect(expired.sent).to.equal(false);
    expect(transport.requests).to.have.length(0);
  });
});
