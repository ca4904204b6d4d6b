/**
 * A hello with `leaderWaitMs` (a client looking for a new leader past a silent one) in the
 * Dispatcher, without sockets: a node that does not lead holds the answer until it leads or the
 * wait is over; the leader answers at once; a node handing its leadership over holds it too; a
 * closed connection's hello is never answered.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { FakeConnection, dispatcherOptions } from '../support/fake-dispatch.js';

function node(clock: { nowMs: number }): Dispatcher<FakeConnection> {
  return new Dispatcher<FakeConnection>(dispatcherOptions('n2', { nowMs: () => clock.nowMs }));
}

describe('hellos held until their node leads', () => {
  it('a follower holds the answer until it leads, then answers that it leads', () => {
    const clock = { nowMs: 0 };
    const dispatcher = node(clock);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n1', term: 2, stepping: false });
    const probe = new FakeConnection();
    dispatcher.onRequests(probe, [{ id: 1, type: 'hello', protocol: 1, leaderWaitMs: 1_000 }]);
    clock.nowMs = 400;
    dispatcher.tick();
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: null, term: 3, stepping: false });
    expect(probe.replies, 'held through the election').to.deep.equal([]);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n2', term: 3, stepping: false });
    expect(probe.replies).to.have.length(1);
    expect(probe.replies[0]).to.include({ id: 1, node: 'n2', leader: 'n2' });
    clock.nowMs = 2_000;
    dispatcher.tick();
    expect(probe.replies, 'answered once').to.have.length(1);
  });

  it('a follower that does not come to lead answers at the end of the wait, naming the leader it knows', () => {
    const clock = { nowMs: 0 };
    const dispatcher = node(clock);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n1', term: 2, stepping: false });
    const probe = new FakeConnection();
    dispatcher.onRequests(probe, [{ id: 1, type: 'hello', protocol: 1, leaderWaitMs: 1_000 }, { id: 2, type: 'hello', protocol: 1 }]);
    expect(probe.replies.map((reply) => reply.id), 'a hello without a wait is answered at once').to.deep.equal([2]);
    clock.nowMs = 999;
    dispatcher.tick();
    expect(probe.replies).to.have.length(1);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n3', term: 3, stepping: false });
    clock.nowMs = 1_000;
    dispatcher.tick();
    expect(probe.replies).to.have.length(2);
    expect(probe.replies[1]).to.include({ id: 1, node: 'n2', leader: 'n3' });
  });

  it('the leader answers at once; while it hands its leadership over, it holds', () => {
    const clock = { nowMs: 0 };
    const dispatcher = node(clock);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n2', term: 2, stepping: false });
    const probe = new FakeConnection();
    dispatcher.onRequests(probe, [{ id: 1, type: 'hello', protocol: 1, leaderWaitMs: 1_000 }]);
    expect(probe.replies[0]).to.include({ id: 1, leader: 'n2' });
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n2', term: 2, stepping: true });
    dispatcher.onRequests(probe, [{ id: 2, type: 'hello', protocol: 1, leaderWaitMs: 1_000 }]);
    expect(probe.replies, 'a node handing over does not claim to lead').to.have.length(1);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n1', term: 3, stepping: false });
    clock.nowMs = 1_000;
    dispatcher.tick();
    expect(probe.replies[1]).to.include({ id: 2, leader: 'n1' });
  });

  it('forgets the held hello of a connection that closed', () => {
    const clock = { nowMs: 0 };
    const dispatcher = node(clock);
    const gone = new FakeConnection();
    const staying = new FakeConnection();
    dispatcher.onRequests(gone, [{ id: 1, type: 'hello', protocol: 1, leaderWaitMs: 1_000 }]);
    dispatcher.onRequests(staying, [{ id: 1, type: 'hello', protocol: 1, leaderWaitMs: 1_000 }]);
    dispatcher.onConnectionClosed(gone);
    dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n2', term: 1, stepping: false });
    expect(gone.replies).to.deep.equal([]);
    expect(staying.replies).to.have.length(1);
  });
});
