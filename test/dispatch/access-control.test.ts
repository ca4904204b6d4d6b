/**
 * Bearer-token access in the Dispatcher, without sockets: the role table request by request, what
 * a hello's token does to its connection, and that access is decided before leadership (a
 * follower refuses an unauthenticated request as the leader would, instead of naming the leader).
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { accessRoles, mayRunJobs, tokenCharsMax, type AccessRole, type AccessToken } from '../../src/config/auth-config.js';
import { AccessControl, tokenNeededMessage } from '../../src/dispatch/access-control.js';
import { Dispatcher, type DispatcherOptions } from '../../src/dispatch/dispatcher.js';
import { isFalconError } from '../../src/errors.js';
import { rolesAllowed } from '../../src/protocol/access-roles.js';
import { createClientRequestIntake, type InvalidRequest } from '../../src/protocol/client-validation.js';
import { clientLimits, type ClientRequest, type ClientRequestType } from '../../src/protocol/client.js';
import { FakeConnection, dispatcherOptions } from '../support/fake-dispatch.js';

const tokens: readonly AccessToken[] = [
  { token: 'produce-token-0123456789', role: 'produce', name: 'web' },
  { token: 'consume-token-0123456789', role: 'consume' },
  { token: 'admin-token-0123456789ab', role: 'admin', name: 'ops' },
];
const tokenOf = (role: AccessRole): string => tokens.find((entry) => entry.role === role)?.token ?? '';

/** The expected table, written out as docs/protocol.md §3 states it. */
const expected: Readonly<Record<Exclude<ClientRequestType, 'hello'>, readonly AccessRole[]>> = {
  enqueue: ['produce', 'admin'],
  pull: ['consume', 'admin'], ack: ['consume', 'admin'], nack: ['consume', 'admin'], extend: ['consume', 'admin'],
  register: ['consume', 'admin'], heartbeat: ['consume', 'admin'], unregister: ['consume', 'admin'],
  get: ['produce', 'consume', 'admin'], list: ['produce', 'consume', 'admin'], stats: ['produce', 'consume', 'admin'],
  cancel: ['admin'], pause: ['admin'], resume: ['admin'], redrive: ['admin'], purge: ['admin'],
};

describe('access control: the role table', () => {
  const access = new AccessControl(tokens);

  it('allows each role exactly the requests of its row, and refuses the rest with PERMISSION_DENIED', () => {
    for (const role of accessRoles) {
      const grant = access.authenticate(tokenOf(role));
      if (grant === undefined || isFalconError(grant)) throw new Error(`the ${role} token was not accepted`);
      expect(grant.role).to.equal(role);
      for (const [type, allowed] of Object.entries(expected) as Array<[ClientRequestType, readonly AccessRole[]]>) {
        const refusal = access.authorize(grant, type);
        if (allowed.includes(role)) {
          expect(refusal, `${role} ${type}`).to.equal(undefined);
        } else {
          expect(refusal?.code, `${role} ${type}`).to.equal('PERMISSION_DENIED');
          expect(refusal?.message).to.contain(`${type}: role '${role}'`);
        }
      }
      expect(access.authorize(grant, 'hello')).to.equal(undefined);
    }
    expect(rolesAllowed).to.deep.equal(expected);
  });

  it('a forbidden request names the role, the token by its label and the roles it needs, never the token', () => {
    const grant = access.authenticate(tokenOf('produce'));
    if (grant === undefined || isFalconError(grant)) throw new Error('not accepted');
    const refusal = access.authorize(grant, 'purge');
    expect(refusal?.message).to.equal("purge: role 'produce' (token web) may not make this request; it needs role 'admin'");
    expect(refusal?.detail).to.deep.equal({ request: 'purge', role: 'produce' });
  });

  it('no token or an unlisted one is UNAUTHENTICATED; an open cluster allows everything', () => {
    expect(access.authenticate(undefined)).to.equal(undefined);
    expect(access.authorize(undefined, 'stats')).to.deep.include({ code: 'UNAUTHENTICATED', message: `stats: ${tokenNeededMessage}` });
    const wrong = access.authenticate('produce-token-0123456780');
    expect(isFalconError(wrong) && wrong.code).to.equal('UNAUTHENTICATED');
    expect(JSON.stringify(wrong)).to.not.contain('produce-token');
    const open = new AccessControl([]);
    expect(open.isOpen).to.equal(true);
    expect(open.authenticate('anything-at-all-here')).to.equal(undefined);
    expect(open.authorize(undefined, 'purge')).to.equal(undefined);
  });

  it('the roles local handlers use may make every request a worker makes; hello carries the longest token', () => {
    for (const role of accessRoles) {
      const worker = (['pull', 'ack', 'nack', 'extend', 'register', 'heartbeat', 'unregister'] as const).every((type) => rolesAllowed[type].includes(role));
      expect(mayRunJobs(role), role).to.equal(worker);
    }
    expect(clientLimits.tokenBytesMax).to.equal(tokenCharsMax);
  });
});

function followerOptions(): DispatcherOptions {
  return dispatcherOptions('n2', { access: new AccessControl(tokens) });
}

function follower(): Dispatcher<FakeConnection> {
  const dispatcher = new Dispatcher<FakeConnection>(followerOptions());
  dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n1', term: 2, stepping: false });
  return dispatcher;
}

describe('access control in the Dispatcher (a follower)', () => {
  const stats: ClientRequest = { id: 2, type: 'stats' };

  it('refuses an unauthenticated request before naming the leader; a good hello gets NOT_LEADER with the leader', () => {
    const dispatcher = follower();
    const connection = new FakeConnection();
    dispatcher.onRequests(connection, [stats]);
    expect(connection.last()['error']).to.deep.include({ code: 'UNAUTHENTICATED' });
    dispatcher.onRequests(connection, [{ id: 3, type: 'hello', protocol: 1, token: tokenOf('consume') }]);
    expect(connection.last()).to.deep.include({ id: 3, node: 'n2', leader: 'n1' });
    dispatcher.onRequests(connection, [{ ...stats, id: 4 }]);
    expect(connection.last()['error']).to.deep.include({ code: 'NOT_LEADER', leader: { id: 'n1', host: '127.0.0.1', clientPort: 7201 } });
    dispatcher.onRequests(connection, [{ id: 5, type: 'purge', queue: 'q', set: 'dead' }]);
    expect(connection.last()['error']).to.deep.include({ code: 'PERMISSION_DENIED' });
    expect(dispatcher.counters).to.include({ unauthenticated: 1, permissionDenied: 1, notLeader: 1 });
  });

  it("a hello's reply says what its connection may now do: the token's role, none without a token, open on an open cluster", () => {
    const dispatcher = follower();
    const connection = new FakeConnection();
    for (const role of accessRoles) {
      dispatcher.onRequests(connection, [{ id: 1, type: 'hello', protocol: 1, token: tokenOf(role) }]);
      expect(connection.last(), role).to.deep.include({ id: 1, access: role });
    }
    dispatcher.onRequests(connection, [{ id: 2, type: 'hello', protocol: 1 }]);
    expect(connection.last()).to.deep.include({ id: 2, access: 'none' });
    const open = new Dispatcher<FakeConnection>({ ...followerOptions(), access: new AccessControl([]) });
    const anyone = new FakeConnection();
    open.onRequests(anyone, [{ id: 1, type: 'hello', protocol: 1 }, { id: 2, type: 'hello', protocol: 1, token: tokenOf('admin') }]);
    expect(anyone.replies.map((reply) => (reply as { access?: string }).access)).to.deep.equal(['open', 'open']);
  });

  it('a later hello with an unlisted token, or with none, takes the role away from its connection only', () => {
    const dispatcher = follower();
    const connection = new FakeConnection();
    const other = new FakeConnection();
    dispatcher.onRequests(connection, [{ id: 1, type: 'hello', protocol: 1, token: tokenOf('admin') }]);
    dispatcher.onRequests(other, [{ id: 1, type: 'hello', protocol: 1, token: tokenOf('admin') }]);
    dispatcher.onRequests(connection, [{ id: 2, type: 'hello', protocol: 1, token: 'not-a-listed-token-000' }]);
    expect(connection.last()).to.deep.include({ id: 2 });
    expect(connection.last()['error']).to.deep.include({ code: 'UNAUTHENTICATED' });
    dispatcher.onRequests(connection, [{ ...stats, id: 3 }]);
    expect(connection.last()['error']).to.deep.include({ code: 'UNAUTHENTICATED', message: `stats: ${tokenNeededMessage}` });
    dispatcher.onRequests(other, [{ ...stats, id: 2 }]);
    expect(other.last()['error']).to.deep.include({ code: 'NOT_LEADER' });
    dispatcher.onRequests(other, [{ id: 3, type: 'hello', protocol: 1 }, { ...stats, id: 4 }]);
    expect(other.last()['error']).to.deep.include({ code: 'UNAUTHENTICATED' });
  });

  /** What the client server hands the Dispatcher for `value`: a request, or one that failed its check. */
  const intake = createClientRequestIntake({ payloadBytesMax: 1_000 });
  const arrived = (value: Record<string, unknown>): ClientRequest | InvalidRequest => {
    const checked = intake(value);
    if (isFalconError(checked)) throw new Error(`not handed over: ${checked.message}`);
    return checked;
  };
  const codesOf = (connection: FakeConnection): string[] => connection.replies.map((reply) => {
    const error = (reply as { error?: { code: string } }).error;
    return error?.code ?? 'OK';
  });

  it('a hello that fails its check ends the role an earlier hello granted; a malformed token is UNAUTHENTICATED', () => {
    for (const [label, hello, helloCode] of [
      ['empty token', { token: '' }, 'UNAUTHENTICATED'],
      ['257-byte token', { token: 'x'.repeat(clientLimits.tokenBytesMax + 1) }, 'UNAUTHENTICATED'],
      ['numeric token', { token: 12_345 }, 'UNAUTHENTICATED'],
      ['listed token, bad producer id', { token: tokenOf('admin'), producerId: '' }, 'INVALID_ARGUMENT'],
      ['listed token, another protocol', { token: tokenOf('admin'), protocol: 9 }, 'UNSUPPORTED_VERSION'],
    ] as const) {
      const dispatcher = follower();
      const connection = new FakeConnection();
      dispatcher.onRequests(connection, [
        arrived({ id: 1, type: 'hello', protocol: 1, token: tokenOf('admin') }),
        arrived({ id: 2, type: 'hello', protocol: 1, ...hello }),
        arrived({ id: 3, type: 'pause', queue: 'q' }),
      ]);
      expect(codesOf(connection), label).to.deep.equal(['OK', helloCode, 'UNAUTHENTICATED']);
      expect(JSON.stringify(connection.replies), label).to.not.contain('admin-token');
    }
  });

  it('judges access before the request: with no role a malformed request is UNAUTHENTICATED, with a role it is its own refusal', () => {
    const dispatcher = follower();
    const connection = new FakeConnection();
    const malformed = [
      { type: 'purge', queue: 'q', set: 'everything' }, { type: 'no-such-request' }, { type: 'enqueue', queue: '', jobs: [] },
    ];
    dispatcher.onRequests(connection, malformed.map((fields, at) => arrived({ id: at + 1, ...fields })));
    expect(codesOf(connection), 'no role').to.deep.equal(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    expect(JSON.stringify(connection.replies)).to.not.contain('everything');
    connection.replies.length = 0;
    dispatcher.onRequests(connection, [arrived({ id: 10, type: 'hello', protocol: 1, token: tokenOf('produce') }),
      ...malformed.map((fields, at) => arrived({ id: at + 11, ...fields }))]);
    expect(codesOf(connection), 'role produce').to.deep.equal(['OK', 'PERMISSION_DENIED', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
    expect(dispatcher.counters).to.include({ invalidRequests: 6, unauthenticated: 3, permissionDenied: 1 });
  });

  it('an open cluster answers a failed check as before: INVALID_ARGUMENT naming the field', () => {
    const open = new Dispatcher<FakeConnection>({ ...followerOptions(), access: new AccessControl([]) });
    const connection = new FakeConnection();
    open.onRequests(connection, [arrived({ id: 1, type: 'hello', protocol: 1, token: '' }), arrived({ id: 2, type: 'pause', queue: '' })]);
    expect(connection.replies.map((reply) => (reply as { error?: { code: string; message: string } }).error?.message))
      .to.deep.equal(['hello: token is not a string of 1 to 256 UTF-8 bytes', 'pause: queue is not a string of 1 to 200 UTF-8 bytes without control characters']);
  });
});
