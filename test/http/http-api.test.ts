/**
 * The HTTP API's own behaviour, in front of a recording QueueGateway (no cluster): what each route
 * asks the protocol for (the seed's field names included), the 400/404/405/413 answers and the
 * status each protocol error code maps to, the bearer token and deadline handed to the gateway,
 * the OpenAPI description and docs/http.md covering every route, and random bodies answered
 * without a fault.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ProtocolError } from '../../src/client/protocol-connection.js';
import { encode } from '../../src/codec/msgpack.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createHttpApi, type HttpApi } from '../../src/http/http-api.js';
import type { Caller, QueueGateway, QueueOperations } from '../../src/http/queue-gateway.js';

/** The result bytes `get` answers per job id: MessagePack, bytes that look like JSON text, and none of either. */
const resultsByJob = new Map<number, Buffer>([[8, encode({ sent: true, n: [1, 2.5] })], [9, Buffer.from('{"a":1}')]]);

interface Recorded { readonly caller: Caller; readonly method: string; readonly fields: unknown }

/** A gateway that records every call and answers like a leader would, or fails with `failWith`. */
class RecordingGateway implements QueueGateway {
  readonly calls: Recorded[] = [];
  failWith: ProtocolError | undefined;
  /** When set, admit() refuses every caller with it (a token the cluster does not list). */
  refuseAccess: ProtocolError | undefined;

  admit(): Promise<void> {
    return this.refuseAccess === undefined ? Promise.resolve() : Promise.reject(this.refuseAccess);
  }

  operationsFor(caller: Caller): QueueOperations {
    const answer = <T>(method: string, fields: unknown, reply: T): Promise<T> => {
      this.calls.push({ caller, method, fields });
      return this.failWith === undefined ? Promise.resolve(reply) : Promise.reject(this.failWith);
    };
    const job = { id: 7, queue: 'q', contentType: 'application/msgpack' as const, priority: 0, attempt: 1, attemptsMax: 5, token: 3, deadlineMs: 1, enqueuedAtMs: 1 };
    return {
      enqueue: (queue, jobs) => answer('enqueue', { queue, jobs }, jobs.map((job, index) => ({ id: 7 + index, state: 'ready' as const, duplicate: job.idempotencyKey === 'seen' }))),
      pull: (fields) => answer('pull', fields, [{ ...job, payload: encode({ to: 'a' }) }, { ...job, id: 8, contentType: 'application/octet-stream' as const, payload: Buffer.from([0xff, 0]) }]),
      ack: (fields) => answer('ack', fields, { repeated: false }),
      nack: (fields) => answer('nack', fields, { state: 'delayed' as const, retryAtMs: 5 }),
      extend: (fields) => answer('extend', fields, { deadlineMs: 9 }),
      get: (jobId) => answer('get', { jobId }, {
        id: jobId, queue: 'q', state: 'completed' as const, priority: 0, payload: Buffer.from('{"a":1}'), contentType: 'application/json' as const,
        attempts: 1, attemptsMax: 5, runAtMs: 1, enqueuedAtMs: 1, updatedAtMs: 2, result: resultsByJob.get(jobId) ?? Buffer.from([0xc1]), history: [],
      }),
      list: (fields) => answer('list', fields, { jobs: [], nextAfterId: null }),
      stats: (queue) => answer('stats', { queue }, []),
      register: (fields) => answer('register', fields, { ttlMs: 5000 }),
      heartbeat: (fields) => answer('heartbeat', fields, { ttlMs: 5000 }),
      unregister: (fields) => answer('unregister', fields, { jobs: 2 }),
    };
  }

  close(): void {}
}

interface Answer { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: Record<string, unknown> }

describe('HTTP API (in front of a recording gateway)', () => {
  const gateway = new RecordingGateway();
  const payloadBytesMax = 1024;
  let api: HttpApi;
  let server: Server;
  let port = 0;

  before(async () => {
    api = createHttpApi({ gateway, payloadBytesMax, logger: pino({ level: 'warn' }, new Writable({ write(_c, _e, done) { done(); } })) });
    server = createServer((request, response) => void api.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    api.close();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    gateway.calls.length = 0;
    gateway.failWith = undefined;
    gateway.refuseAccess = undefined;
  });

  async function send(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    return { status: response.status, headers: Object.fromEntries(response.headers), body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> };
  }
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => send('POST', path, JSON.stringify(body), headers);
  const errorOf = (answer: Answer): { code: string; message: string; field?: string } => answer.body['error'] as { code: string; message: string; field?: string };

  it('takes the seed\'s field names for register, heartbeat, pull and unregister, and the protocol\'s', async () => {
    expect((await post('/v1/register', { nodeId: 'w1', role: 'worker', cap: 2, queues: ['q'] })).body).to.deep.equal({ ttlMs: 5000 });
    await post('/v1/register', { workerId: 'w1', capacity: 2, queues: ['q'] });
    await post('/v1/heartbeat', { nodeId: 'w1', load: 1 });
    await post('/v1/pull', { workerId: 'w1', queue: 'q', maxN: 3, waitMs: 100 });
    await post('/v1/pull', { queue: 'q' });
    expect((await post('/v1/unregister', { nodeId: 'w1' })).body).to.deep.equal({ jobs: 2 });
    expect(gateway.calls.map((call) => [call.method, call.fields])).to.deep.equal([
      ['register', { workerId: 'w1', capacity: 2, queues: ['q'] }],
      ['register', { workerId: 'w1', capacity: 2, queues: ['q'] }],
      ['heartbeat', { workerId: 'w1', load: 1 }],
      ['pull', { queue: 'q', jobsMax: 3, waitMs: 100, workerId: 'w1' }],
      ['pull', { queue: 'q', jobsMax: 1 }],
      ['unregister', { workerId: 'w1' }],
    ]);
  });

  it('stores a JSON payload as application/json, base64 as bytes; shows MessagePack as JSON and other bytes as base64', async () => {
    const created = await post('/v1/queues/q/jobs', { payload: { to: 'a' }, maxAttempts: 3, priority: -1 }, { 'Idempotency-Key': 'k-1' });
    expect(created.status).to.equal(201);
    expect(created.headers['location']).to.equal('/v1/jobs/7');
    await post('/v1/queues/a%2Fb/jobs', { payloadBase64: Buffer.from([1, 2]).toString('base64'), contentType: 'application/msgpack', attemptsMax: 2 });
    expect(gateway.calls.map((call) => call.fields)).to.deep.equal([
      { queue: 'q', jobs: [{ payload: Buffer.from('{"to":"a"}'), contentType: 'application/json', priority: -1, attemptsMax: 3, idempotencyKey: 'k-1' }] },
      { queue: 'a/b', jobs: [{ payload: Buffer.from([1, 2]), contentType: 'application/msgpack', attemptsMax: 2 }] },
    ]);
    const pulled = (await post('/v1/pull', { queue: 'q', jobsMax: 2 })).body['jobs'] as Array<Record<string, unknown>>;
    expect(pulled[0]).to.include({ id: 7, token: 3 }).and.deep.include({ payload: { to: 'a' } });
    expect(pulled[1]).to.include({ id: 8, payloadBase64: Buffer.from([0xff, 0]).toString('base64') }).and.not.have.property('payload');
    const job = (await send('GET', '/v1/jobs/7')).body;
    expect(job).to.deep.include({ payload: { a: 1 }, resultBase64: Buffer.from([0xc1]).toString('base64') });
  });

  it('makes an ack with status failed or error a nack, and refuses nack fields on a success', async () => {
    expect((await post('/v1/ack', { jobId: 1, token: 2, status: 'ok', result: [1] })).body).to.deep.equal({ state: 'completed', repeated: false });
    expect((await post('/v1/ack', { jobId: 1, token: 2, status: 'failed', error: 'boom', retryable: false })).body).to.deep.equal({ state: 'delayed', retryAtMs: 5 });
    expect(gateway.calls.map((call) => [call.method, call.fields])).to.deep.equal([
      ['ack', { jobId: 1, token: 2, result: encode([1]) }],
      ['nack', { jobId: 1, token: 2, error: 'boom', retryable: false }],
    ]);
    const refused = await post('/v1/ack', { jobId: 1, token: 2, error: 'x' });
    expect(refused.status).to.equal(400);
    expect(errorOf(refused).field).to.equal('status');
  });

  it('stores a JSON result as MessagePack and shows result bytes as their MessagePack value, never guessing JSON text', async () => {
    await post('/v1/ack', { jobId: 1, token: 2, result: { sent: true, n: [1, 2.5] } });
    await post('/v1/ack', { jobId: 1, token: 2, resultBase64: Buffer.from('{"a":1}').toString('base64') });
    expect(gateway.calls.map((call) => call.fields)).to.deep.equal([
      { jobId: 1, token: 2, result: encode({ sent: true, n: [1, 2.5] }) },
      { jobId: 1, token: 2, result: Buffer.from('{"a":1}') },
    ]);
    expect((await send('GET', '/v1/jobs/8')).body).to.deep.include({ result: { sent: true, n: [1, 2.5] } });
    const jsonText = (await send('GET', '/v1/jobs/9')).body;
    expect(jsonText).to.include({ resultBase64: Buffer.from('{"a":1}').toString('base64') }).and.not.have.property('result');
  });

  it('enqueues a batch of jobs as one call, answering each job in order; the Idempotency-Key header goes with one job only', async () => {
    const batch = await post('/v1/queues/q/jobs', { jobs: [{ payload: { n: 1 } }, { payloadBase64: 'AQI=', contentType: 'application/msgpack', idempotencyKey: 'b-2', priority: 3 }] });
    expect(batch.status).to.equal(201);
    expect(batch.body).to.deep.equal({ jobs: [{ id: 7, state: 'ready', duplicate: false }, { id: 8, state: 'ready', duplicate: false }] });
    expect(batch.headers['location']).to.equal(undefined);
    expect(gateway.calls.map((call) => call.fields)).to.deep.equal([{ queue: 'q', jobs: [
      { payload: Buffer.from('{"n":1}'), contentType: 'application/json' },
      { payload: Buffer.from([1, 2]), contentType: 'application/msgpack', priority: 3, idempotencyKey: 'b-2' },
    ] }]);
    const allSeen = await post('/v1/queues/q/jobs', { jobs: [{ payload: 1, idempotencyKey: 'seen' }] });
    expect([allSeen.status, allSeen.body]).to.deep.equal([200, { jobs: [{ id: 7, state: 'ready', duplicate: true }] }]);
    const cases: Array<[unknown, string, number]> = [
      [{ jobs: [] }, 'jobs', 400],
      [{ jobs: {} }, 'jobs', 400],
      [{ jobs: Array.from({ length: 4097 }, () => ({ payload: 1 })) }, 'jobs', 400],
      [{ jobs: [{ payload: 1 }, { payload: 1, priorty: 1 }] }, 'jobs[1].priorty', 400],
      [{ jobs: [{ payload: 1 }, 5] }, 'jobs[1]', 400],
      [{ jobs: [{ payload: 1, backoff: { kind: 'x', delayMs: 1 } }] }, 'jobs[0].backoff.kind', 400],
      [{ jobs: [{ payload: 1 }], priority: 1 }, 'priority', 400],
      [{ jobs: [{ payload: 1 }, { payload: 'x'.repeat(payloadBytesMax) }] }, 'jobs[1].payload', 413],
    ];
    gateway.calls.length = 0;
    for (const [body, field, status] of cases) {
      const answer = await post('/v1/queues/q/jobs', body);
      expect([answer.status, errorOf(answer).field], JSON.stringify(body).slice(0, 80)).to.deep.equal([status, field]);
    }
    const keyed = await post('/v1/queues/q/jobs', { jobs: [{ payload: 1 }] }, { 'Idempotency-Key': 'k' });
    expect([keyed.status, errorOf(keyed).field]).to.deep.equal([400, 'Idempotency-Key']);
    expect(gateway.calls, 'no refused batch reached the cluster: all or none').to.deep.equal([]);
  });

  it('answers 400 naming the field for bad bodies, without calling the cluster', async () => {
    const cases: Array<[string, unknown, string | undefined]> = [
      ['/v1/register', { workerId: 'w', capacity: 0, queues: ['q'] }, 'capacity'],
      ['/v1/register', { workerId: 'w', capacity: 1 }, 'queues'],
      ['/v1/register', { workerId: 'w', nodeId: 'w', capacity: 1, queues: [] }, 'workerId'],
      ['/v1/register', { workerId: 'w', capacity: 1, queues: ['ok', ''] }, 'queues[1]'],
      ['/v1/heartbeat', { load: 1 }, 'workerId'],
      ['/v1/unregister', { load: 1 }, 'workerId'],
      ['/v1/pull', { queue: 'q', waitMs: 60_001 }, 'waitMs'],
      ['/v1/pull', { queue: 'bad\u0001name' }, 'queue'],
      ['/v1/pull', [1, 2], undefined],
      ['/v1/pull', { queue: 'q', status: 999, code: 'X', message: 'a body shaped like an error' }, 'status'],
      ['/v1/ack', { jobId: 1.5, token: 1 }, 'jobId'],
      ['/v1/ack', { jobId: 1, token: 1, status: 'maybe' }, 'status'],
      ['/v1/extend', { jobId: 1 }, 'token'],
      ['/v1/queues/q/jobs', {}, 'payload'],
      ['/v1/queues/q/jobs', { payload: 1, payloadBase64: 'AA==' }, 'payload'],
      ['/v1/queues/q/jobs', { payloadBase64: 'not base64!' }, 'payloadBase64'],
      ['/v1/queues/q/jobs', { payload: 1, contentType: 'application/msgpack' }, 'contentType'],
      ['/v1/queues/q/jobs', { payload: 1, backoff: { kind: 'linear', delayMs: 1 } }, 'backoff.kind'],
      ['/v1/queues/q/jobs', { payload: 1, priorty: 1 }, 'priorty'],
      ['/v1/queues/q/jobs', { payload: 1, priority: 2 ** 31 }, 'priority'],
    ];
    for (const [path, body, field] of cases) {
      const answer = await post(path, body);
      expect(answer.status, `${path} ${JSON.stringify(body)}`).to.equal(400);
      expect(errorOf(answer).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(answer).field, `${path} ${JSON.stringify(body)}: ${errorOf(answer).message}`).to.equal(field);
    }
    expect(errorOf(await post('/v1/queues/q/jobs', { payload: 1, priorty: 1 })).message).to.contain('did you mean "priority"');
    const deep = 30_000;
    const nested = await send('POST', '/v1/queues/q/jobs', `{"payload":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    expect(errorOf(nested), 'a payload too deep to write back out').to.include({ code: 'INVALID_ARGUMENT', field: 'payload' });
    expect((await send('POST', '/v1/pull', '{"queue":')).status).to.equal(400);
    expect((await send('GET', '/v1/queues/q/jobs?state=lost')).status).to.equal(400);
    expect((await send('GET', '/v1/jobs/0')).status).to.equal(400);
    expect((await send('GET', '/v1/jobs/12x')).status).to.equal(400);
    expect((await send('GET', '/v1/queues/%E0%A4%A')).status).to.equal(400);
    expect((await send('POST', '/v1/queues/q/jobs', '{"payload":1}', { 'Idempotency-Key': 'x'.repeat(257) })).status).to.equal(400);
    expect((await send('POST', '/v1/pull', '{"queue":"q"}', { 'X-Timeout-Ms': '5' })).status).to.equal(400);
    expect(gateway.calls).to.deep.equal([]);
  });

  it('judges access before the path, the body and X-Timeout-Ms: a refused caller gets 401 for a bad body, a bad id or a good request alike', async () => {
    gateway.refuseAccess = new ProtocolError('UNAUTHENTICATED', 'this cluster needs a bearer token', undefined, false);
    const answers = [
      await post('/v1/queues/q/jobs', { priorty: 1, payload: 1 }), await post('/v1/pull', { queue: 'q', jobsMax: 0 }),
      await post('/v1/ack', { jobId: 1 }), await send('POST', '/v1/pull', '{"queue":'), await send('GET', '/v1/jobs/0'),
      await post('/v1/queues/q/jobs', { payload: 1 }), await send('POST', '/v1/pull', '{"queue":"q"}', { 'X-Timeout-Ms': '5' }),
    ];
    expect(answers.map((answer) => `${answer.status} ${errorOf(answer).code}`)).to.deep.equal(Array(answers.length).fill('401 UNAUTHENTICATED'));
    expect(gateway.calls).to.deep.equal([]);
  });

  it('answers 404 for an unknown route or queue, 405 with Allow for a wrong method', async () => {
    const unknown = await send('GET', '/v1/nothing');
    expect(errorOf(unknown).code).to.equal('NOT_FOUND');
    expect(unknown.headers['connection'], 'an error answer keeps the connection').to.not.equal('close');
    expect((await send('GET', '/v1/queues/missing')).status).to.equal(404);
    const wrong = await send('DELETE', '/v1/queues/q/jobs');
    expect(wrong.status).to.equal(405);
    expect(wrong.headers['allow']).to.equal('POST, GET');
    expect((await send('POST', '/v1/openapi.json', '{}')).status).to.equal(405);
  });

  it('answers 413 above the payload limit, and refuses a body above its bound before reading it all', async () => {
    const large = await post('/v1/queues/q/jobs', { payload: 'x'.repeat(payloadBytesMax) });
    expect(large.status).to.equal(413);
    expect(errorOf(large)).to.include({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' });
    expect((await post('/v1/ack', { jobId: 1, token: 1, resultBase64: Buffer.alloc(payloadBytesMax + 1).toString('base64') })).status).to.equal(413);
    expect((await post('/v1/queues/q/jobs', { payload: 'x'.repeat(payloadBytesMax - 2) })).status, 'exactly the limit').to.equal(201);
    const bodyBytesMax = 2 * payloadBytesMax + 64 * 1024;
    const declared = await send('POST', '/v1/pull', Buffer.alloc(bodyBytesMax + 1, 0x20));
    expect(declared.status).to.equal(413);
    expect(declared.headers['connection'], 'the unread body ends the connection').to.equal('close');
    // Chunked: no Content-Length, so the bound is met while reading; the connection then closes.
    const streamed = await new Promise<number>((resolve, reject) => {
      const request = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/v1/pull' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      for (let sent = 0; sent <= bodyBytesMax; sent += chunk.byteLength) request.write(chunk);
      request.end();
    });
    expect(streamed).to.equal(413);
    expect(gateway.calls.length).to.equal(1);
  });

  it('maps the protocol\'s error codes to HTTP statuses, with Retry-After where a retry helps', async () => {
    const expected: Array<[string, number, string | undefined]> = [
      ['INVALID_ARGUMENT', 400, undefined], ['UNAUTHENTICATED', 401, undefined], ['PERMISSION_DENIED', 403, undefined],
      ['NOT_FOUND', 404, undefined], ['LEASE_LOST', 409, undefined], ['FAILED_PRECONDITION', 409, undefined],
      ['PAYLOAD_TOO_LARGE', 413, undefined], ['RESOURCE_EXHAUSTED', 429, '1'], ['NOT_LEADER', 503, '1'], ['UNAVAILABLE', 503, '1'],
      ['INTERNAL', 503, '1'], ['SOMETHING_NEW', 502, undefined],
    ];
    for (const [code, status, retryAfter] of expected) {
      gateway.failWith = new ProtocolError(code, `failed with ${code}`);
      const answer = await send('GET', '/v1/jobs/1');
      expect(answer.status, code).to.equal(status);
      expect(answer.headers['retry-after'], code).to.equal(retryAfter);
    }
    gateway.failWith = new ProtocolError('UNAUTHENTICATED', 'no');
    expect((await send('GET', '/v1/jobs/1')).headers['www-authenticate']).to.equal('Bearer');
  });

  it('tells the sender of an enqueue without keys whose deadline passed with the outcome unknown that a retry may add a second job', async () => {
    gateway.failWith = new ProtocolError('UNAVAILABLE', 'the connection closed before the reply came');
    const unkeyed = await post('/v1/queues/q/jobs', { payload: 1 });
    expect(unkeyed.status).to.equal(503);
    expect(errorOf(unkeyed).message).to.contain('may or may not have been added').and.contain('Idempotency-Key');
    const keyed = await post('/v1/queues/q/jobs', { payload: 1 }, { 'Idempotency-Key': 'k' });
    expect(keyed.status).to.equal(503);
    expect(errorOf(keyed).message).to.not.contain('may or may not');
    const batch = await post('/v1/queues/q/jobs', { jobs: [{ payload: 1, idempotencyKey: 'k' }, { payload: 2 }] });
    expect(batch.status).to.equal(503);
    expect(errorOf(batch).message).to.contain('all or none').and.contain('give every job an idempotencyKey');
  });

  it('hands the bearer token and the deadline to the gateway; a long poll lengthens the deadline', async () => {
    await send('GET', '/v1/jobs/1', undefined, { authorization: 'Bearer s3cret' });
    await send('POST', '/v1/pull', '{"queue":"q","waitMs":2000}', { 'X-Timeout-Ms': '500' });
    // The deadline, less the few ms access took, is handed on.
    const callers = gateway.calls.map((call) => ({ token: call.caller.token, deadlineMs: Math.ceil(call.caller.deadlineMs / 50) * 50 }));
    expect(callers).to.deep.equal([{ token: 's3cret', deadlineMs: 10_000 }, { token: undefined, deadlineMs: 2_500 }]);
    const refused = await send('GET', '/v1/jobs/1', undefined, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(refused.status).to.equal(401);
    expect(refused.headers['www-authenticate']).to.equal('Bearer');
  });

  it('describes every route in /v1/openapi.json and in docs/http.md', async () => {
    const required = ['POST /v1/register', 'POST /v1/heartbeat', 'POST /v1/pull', 'POST /v1/ack', 'POST /v1/queues/{queue}/jobs', 'GET /v1/jobs/{id}', 'GET /v1/queues/{queue}'];
    const served = apiRoutes.map((route) => `${route.method} ${route.path}`);
    expect(served).to.include.members(required);
    const document = (await send('GET', '/v1/openapi.json')).body as { openapi: string; paths: Record<string, Record<string, { responses: object }>> };
    expect(document.openapi).to.match(/^3\./);
    const described = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(described).to.have.members([...served, 'GET /v1/openapi.json']);
    const docs = readFileSync(fileURLToPath(new URL('../../../docs/http.md', import.meta.url)), 'utf8');
    for (const route of described) expect(docs, `docs/http.md names ${route}`).to.contain(route);
  });

  it('answers random bodies on every route without a fault, and keeps serving (seeded; fast-check prints the seed of a failure)', async () => {
    const posts = apiRoutes.filter((route) => route.method === 'POST').map((route) => route.path.replace('{queue}', 'q'));
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...posts),
      fc.oneof(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), fc.json().map((text) => Buffer.from(text)), fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null'))),
      async (path, body) => {
        const answer = await send('POST', path, body);
        expect([200, 201, 400, 413], `${path} ${body.toString('hex')}`).to.include(answer.status);
      },
    ), { numRuns: 150 });
    expect((await send('GET', '/v1/jobs/1')).status).to.equal(200);
  });
});
