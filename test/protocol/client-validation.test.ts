/**
 * The client protocol's checkers: every request and every reply survives the trip through the
 * node's codec (msgpackr) and an independent one (@msgpack/msgpack) and passes its checker; a bad
 * field is refused with INVALID_ARGUMENT naming its path and the rule; an oversize payload with
 * PAYLOAD_TOO_LARGE naming the limit and the size.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decode as otherDecode, encode as otherEncode, ExtData } from '@msgpack/msgpack';
import { decode, encode } from '../../src/codec/msgpack.js';
import { isFalconError, type FalconError } from '../../src/errors.js';
import type { ClientRequestType } from '../../src/protocol/client.js';
import { checkClientReply, createClientRequestChecker, isErrorReply } from '../../src/protocol/client-validation.js';

import { bytes, exampleReplies, exampleRequests, payloadBytesMax } from './client-examples.js';

const checkRequest = createClientRequestChecker({ payloadBytesMax });

function refusal(value: unknown): FalconError {
  const checked = checkRequest(value);
  if (!isFalconError(checked)) expect.fail(`expected a refusal of ${JSON.stringify(value)}`);
  return checked;
}

/** Binary fields decode as Buffer (msgpackr) or Uint8Array (@msgpack/msgpack): compare as plain bytes. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

describe('client protocol checkers', () => {
  it('every request type has an example here', () => {
    const types = new Set(exampleRequests.map((request) => request.type));
    expect([...types].sort()).to.deep.equal(Object.keys(exampleReplies).sort());
  });

  it('every request round-trips through either codec and passes its checker unchanged', () => {
    for (const request of exampleRequests) {
      for (const wire of [encode(request), otherEncode(request)]) {
        const checked = checkRequest(decode(wire));
        expect(isFalconError(checked), JSON.stringify(checked)).to.equal(false);
        expect(plain(checked)).to.deep.equal(plain(request));
      }
    }
  });

  it('every reply the node encodes is plain MessagePack that another codec decodes and the reply checker accepts', () => {
    for (const [type, reply] of Object.entries(exampleReplies) as Array<[ClientRequestType, object]>) {
      const decoded = otherDecode(encode(reply), { extensionCodec: undefined });
      expect(JSON.stringify(decoded, (_k, v: unknown) => (v instanceof ExtData ? 'EXT' : v))).not.to.contain('EXT');
      const checked = checkClientReply(decoded, type);
      expect(isFalconError(checked), JSON.stringify(checked)).to.equal(false);
      expect(plain(checked)).to.deep.equal(plain(reply));
    }
  });

  it('the reply checker accepts an error envelope with the leader and refuses a reply missing a field', () => {
    const notLeader = { id: 5, error: { code: 'NOT_LEADER', message: 'n2 leads', leader: { id: 'n2', host: '127.0.0.1', clientPort: 7202 } } };
    const checked = checkClientReply(otherDecode(encode(notLeader)), 'enqueue');
    expect(!isFalconError(checked) && isErrorReply(checked)).to.equal(true);
    const broken = checkClientReply({ id: 5, jobs: [{ id: 1, state: 'ready' }] }, 'enqueue');
    expect(isFalconError(broken) && broken.code).to.equal('MALFORMED_FRAME');
    expect((broken as FalconError).message).to.equal('the reply to enqueue: jobs[0].duplicate is not a boolean');
  });

  it('a bad field is INVALID_ARGUMENT naming its path and the rule', () => {
    const cases: Array<[unknown, string, string]> = [
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1) }, { payload: bytes(1) }, { payload: bytes(1) }, { payload: bytes(1), priority: 2 ** 31 }] },
        'jobs[3].priority', 'enqueue: jobs[3].priority is not an integer from -2147483648 to 2147483647 (got 2147483648)'],
      [{ id: 1, type: 'enqueue', queue: '', jobs: [{ payload: bytes(1) }] }, 'queue', 'enqueue: queue is not a string of 1 to 200 UTF-8 bytes without control characters'],
      [{ id: 1, type: 'enqueue', queue: 'a\nb', jobs: [{ payload: bytes(1) }] }, 'queue', 'enqueue: queue is not a string of 1 to 200 UTF-8 bytes without control characters'],
      [{ id: 1, type: 'enqueue', queue: 'é'.repeat(101), jobs: [{ payload: bytes(1) }] }, 'queue', 'enqueue: queue is not a string of 1 to 200 UTF-8 bytes without control characters'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [] }, 'jobs', 'enqueue: jobs is empty'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: Array.from({ length: 4097 }, () => ({ payload: bytes(1) })) }, 'jobs', 'enqueue: jobs holds more than 4096 elements'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: 'text' }] }, 'jobs[0].payload', 'enqueue: jobs[0].payload is not a byte array'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1), contentType: 'text/plain' }] }, 'jobs[0].contentType', "enqueue: jobs[0].contentType is none of 'application/octet-stream', 'application/json', 'application/msgpack'"],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1), idempotencyKey: 'k'.repeat(257) }] }, 'jobs[0].idempotencyKey', 'enqueue: jobs[0].idempotencyKey is not a string of 1 to 256 UTF-8 bytes without control characters'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1), backoff: { kind: 'fixed', delayMs: 10, delayMsMax: 5 } }] }, 'jobs[0].backoff.delayMsMax', 'enqueue: jobs[0].backoff.delayMsMax is below delayMs'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1), backoff: { kind: 'fixed', delayMs: 10, jitterRatio: 1.5 } }] }, 'jobs[0].backoff.jitterRatio', 'enqueue: jobs[0].backoff.jitterRatio is not a number from 0 to 1'],
      [{ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1) }], sequence: -1 }, 'sequence', 'enqueue: sequence is not a safe integer ≥ 0'],
      [{ id: 1, type: 'pull', queue: 'q', jobsMax: 4097 }, 'jobsMax', 'pull: jobsMax is not an integer from 1 to 4096 (got 4097)'],
      [{ id: 1, type: 'pull', queue: 'q', jobsMax: 1, waitMs: 60_001 }, 'waitMs', 'pull: waitMs is not an integer from 0 to 60000 (got 60001)'],
      [{ id: 1, type: 'hello', protocol: 1, leaderWaitMs: 10_001 }, 'leaderWaitMs', 'hello: leaderWaitMs is not an integer from 0 to 10000 (got 10001)'],
      [{ id: 1, type: 'ack', jobId: 1, token: 0 }, 'token', 'ack: token is not a safe integer ≥ 1'],
      [{ id: 1, type: 'ack', jobId: 2 ** 53, token: 1 }, 'jobId', 'ack: jobId is not a safe integer ≥ 1'],
      [{ id: 1, type: 'nack', jobId: 1, token: 1, retryable: 'no' }, 'retryable', 'nack: retryable is not a boolean'],
      [{ id: 1, type: 'list', queue: 'q', state: 'running' }, 'state', "list: state is none of 'delayed', 'ready', 'leased', 'completed', 'dead', 'cancelled'"],
      [{ id: 1, type: 'register', workerId: 'w', queues: ['a', ''], capacity: 1 }, 'queues[1]', 'register: queues[1] is not a string of 1 to 200 UTF-8 bytes without control characters'],
      [{ id: 1, type: 'unregister' }, 'workerId', 'unregister: workerId is not a string of 1 to 128 UTF-8 bytes without control characters'],
      [{ id: 1, type: 'purge', queue: 'q' }, 'set', "purge: set is none of 'ready', 'dead'"],
      [{ id: 1, type: 'launch' }, 'type', "type 'launch' is not a request type (hello, enqueue, pull, ack, nack, extend, get, list, cancel, stats, pause, resume, register, heartbeat, unregister, redrive, purge)"],
      [{ id: 1 }, 'type', 'type undefined is not a request type (hello, enqueue, pull, ack, nack, extend, get, list, cancel, stats, pause, resume, register, heartbeat, unregister, redrive, purge)'],
    ];
    for (const [value, field, message] of cases) {
      const error = refusal(decode(encode(value)));
      expect(error.code, message).to.equal('INVALID_ARGUMENT');
      expect(error.message).to.equal(message);
      expect(error.detail?.['field']).to.equal(field);
    }
  });

  it('a payload or an ack result over payloadBytesMax is PAYLOAD_TOO_LARGE naming the limit and the size', () => {
    const error = refusal(decode(encode({ id: 1, type: 'enqueue', queue: 'q', jobs: [{ payload: bytes(1) }, { payload: bytes(payloadBytesMax + 1) }] })));
    expect(error.code).to.equal('PAYLOAD_TOO_LARGE');
    expect(error.message).to.equal('jobs[1].payload holds 1025 bytes, above queue.payloadBytesMax (1024 bytes)');
    expect(error.detail).to.deep.equal({ field: 'jobs[1].payload', payloadBytes: 1025, payloadBytesMax: 1024 });
    expect(refusal({ id: 1, type: 'ack', jobId: 1, token: 1, result: bytes(2000) }).code).to.equal('PAYLOAD_TOO_LARGE');
  });

  it('a hello with another protocol version is UNSUPPORTED_VERSION', () => {
    const error = refusal({ id: 1, type: 'hello', protocol: 2 });
    expect(error.code).to.equal('UNSUPPORTED_VERSION');
    expect(error.message).to.contain('speaks 1');
  });

  it('never throws on any decoded value: answers a request or an error (property)', () => {
    fc.assert(fc.property(fc.oneof(fc.anything(), fc.record({ id: fc.nat(), type: fc.constantFrom(...exampleRequests.map((r) => r.type)) }, { noNullPrototype: true })), (value) => {
      const checked = checkRequest(value);
      expect(isFalconError(checked) || typeof checked.type === 'string').to.equal(true);
    }), { numRuns: 2000 });
  });

  it('names the position of the one bad priority in any enqueue batch (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 50 }),
      fc.nat(),
      fc.oneof(fc.integer({ min: 2 ** 31, max: 2 ** 40 }), fc.integer({ min: -(2 ** 40), max: -(2 ** 31) - 1 }), fc.double({ min: -10, max: 10, noInteger: true, noNaN: true })),
      (priorities, pick, badPriority) => {
        const jobs = priorities.map((priority) => ({ payload: bytes(2), priority }));
        expect(isFalconError(checkRequest(decode(encode({ id: 9, type: 'enqueue', queue: 'q', jobs }))))).to.equal(false);
        const at = pick % jobs.length;
        jobs[at] = { payload: bytes(2), priority: badPriority };
        const error = refusal(decode(encode({ id: 9, type: 'enqueue', queue: 'q', jobs })));
        expect(error.detail?.['field']).to.equal(`jobs[${at}].priority`);
      },
    ), { numRuns: 200 });
  });
});
