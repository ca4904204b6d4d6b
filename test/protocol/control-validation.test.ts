/**
 * The control link's role requests: every request the supervisor sends passes the actor's
 * checker and every answer a role gives passes the supervisor's (after a trip through the ring's
 * MessagePack codec, as on the real ring); a request or answer with a missing, mistyped or
 * out-of-bounds field is refused naming the kind and the field, so that neither side acts on it;
 * and the load request of POST /debug/raft-load is refused with the field and its bound.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { decode, encode } from '../../src/codec/msgpack.js';
import { falconError, isFalconError, type FalconError } from '../../src/errors.js';
import type { HandOverResult, RaftLoadResult, RoleRequest, RoleResponse } from '../../src/protocol/control.js';
import { checkRaftLoadRequest, checkRoleRequest, checkRoleResponse } from '../../src/protocol/control-validation.js';

const load = { type: 'raftLoad', entries: 10, batch: 2, payloadBytes: 0, inflight: 4, timeoutMs: 1_000 } as const;
const requests: RoleRequest[] = [
  { type: 'handOverLeadership', timeoutMs: 2_500 },
  load,
  { ...load, leaderWaitMs: 1_000 },
];

const figures = { committed: 10, lost: 0, seconds: 0.25, entriesPerSecond: 40, latencyMsP50: 1.5, latencyMsP99: 3.25, latencyMsMax: 4, lastIndex: 12 };
const handOvers: HandOverResult[] = [
  { leading: false, handedTo: null, end: null, ms: 0.01 },
  { leading: false, handedTo: 'n2', end: 'newLeaderCommits', ms: 42.5 },
  { leading: true, handedTo: 'n3', end: 'timedOut', ms: 2_500 },
];
const loads: RaftLoadResult[] = [
  { ok: true, ...figures },
  { ok: false, error: 'timed out after 1000 ms with 3 of 10 entries committed', ...figures },
  { ok: false, error: 'a load is already running' },
];

/** As the receiving thread sees it: through the ring's codec. */
const overTheRing = (message: unknown): unknown => decode(encode(message));

function refusal(checked: unknown): FalconError {
  if (!isFalconError(checked)) throw new Error(`accepted ${JSON.stringify(checked)}`);
  return checked;
}

function internal(checked: unknown): string {
  const error = refusal(checked);
  expect(error.code, error.message).to.equal('INTERNAL');
  return error.message;
}

describe('the control link checks role requests and their answers', () => {
  it('the actor accepts every role request the supervisor sends, as it was sent', () => {
    for (const request of requests) expect(checkRoleRequest(overTheRing(request)), request.type).to.deep.equal(request);
  });

  it('the supervisor accepts every answer a role gives, typed by the kind it asked', () => {
    for (const answer of handOvers) {
      const response: RoleResponse = { type: 'handOverLeadership', answer };
      expect(checkRoleResponse(overTheRing(response), 'handOverLeadership')).to.deep.equal(answer);
    }
    for (const answer of loads) {
      const response: RoleResponse = { type: 'raftLoad', answer };
      expect(checkRoleResponse(overTheRing(response), 'raftLoad')).to.deep.equal(answer);
    }
  });

  it('a well-formed message is returned as it arrived, not copied', () => {
    const request = overTheRing(load);
    expect(checkRoleRequest(request)).to.equal(request);
    const response = overTheRing({ type: 'raftLoad', answer: loads[0] }) as { answer: unknown };
    expect(checkRoleResponse(response, 'raftLoad')).to.equal(response.answer);
  });

  it('a role request with a missing, mistyped or out-of-bounds field is refused, naming the kind and the field', () => {
    expect(internal(checkRoleRequest({ type: 'handOverLeadership' }))).to.contain('handOverLeadership.timeoutMs');
    expect(internal(checkRoleRequest({ ...load, entries: 0 }))).to.contain('raftLoad.entries is not an integer from 1 to 10000000 (got 0)');
    expect(internal(checkRoleRequest({ ...load, batch: '2' }))).to.contain('raftLoad.batch');
    expect(internal(checkRoleRequest({ ...load, leaderWaitMs: 60_000 }))).to.contain('raftLoad.leaderWaitMs');
    expect(internal(checkRoleRequest({ type: 'dropTables' }))).to.contain('type dropTables');
    expect(internal(checkRoleRequest('raftLoad'))).to.contain('not a map');
  });

  it('an answer with a missing or mistyped field, or to another kind, is refused naming the field', () => {
    expect(internal(checkRoleResponse({ type: 'handOverLeadership', answer: { handedTo: null, end: null, ms: 1 } }, 'handOverLeadership'))).to.contain('.answer.leading');
    expect(internal(checkRoleResponse({ type: 'handOverLeadership', answer: { ...handOvers[1], end: 'eventually' } }, 'handOverLeadership'))).to.contain('.answer.end');
    expect(internal(checkRoleResponse({ type: 'raftLoad', answer: { ok: true, ...figures, lost: -1 } }, 'raftLoad'))).to.contain('.answer.lost');
    expect(internal(checkRoleResponse({ type: 'raftLoad', answer: { ok: true } }, 'raftLoad')), 'ok without figures').to.contain('.answer.committed');
    expect(internal(checkRoleResponse({ type: 'raftLoad', answer: { ok: false } }, 'raftLoad')), 'not ok without a reason').to.contain('.answer.error');
    expect(internal(checkRoleResponse({ type: 'raftLoad', answer: loads[0] }, 'handOverLeadership'))).to.contain('it answers raftLoad');
    expect(internal(checkRoleResponse(null, 'raftLoad'))).to.contain('not a map');
  });

  it("a role's refusal reaches the supervisor as the error the actor sent, and a malformed refusal is refused", () => {
    const error = falconError('INTERNAL', "this role takes no 'raftLoad' requests");
    expect(checkRoleResponse(overTheRing({ type: 'refused', error }), 'raftLoad')).to.deep.equal(error);
    expect(internal(checkRoleResponse({ type: 'refused', error: 'no' }, 'raftLoad'))).to.contain('refused.error');
  });

  it('a load request from the ops port is refused with the field and its bound, as INVALID_ARGUMENT', () => {
    const { type: _type, ...body } = load;
    expect(checkRaftLoadRequest(body)).to.deep.equal(load);
    const tooMany = refusal(checkRaftLoadRequest({ ...body, entries: 20_000_000 }));
    expect(tooMany.code).to.equal('INVALID_ARGUMENT');
    expect(tooMany.message).to.equal('entries is not an integer from 1 to 10000000 (got 20000000)');
    expect(refusal(checkRaftLoadRequest({ ...body, timeoutMs: undefined })).message).to.contain('timeoutMs');
    expect(refusal(checkRaftLoadRequest([1])).message).to.contain('not a JSON map');
  });
});
