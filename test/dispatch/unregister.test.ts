/**
 * The leader's side of `unregister`, without sockets: the Dispatcher proposes the very command a
 * TTL expiry proposes (`releaseWorker`, reason `goodbye`), tells the Registry at once, and answers
 * only once the command is applied, with the number of leases it returned; a follower refuses it
 * like any write and tells nobody. The Registry's TTL table (registry/worker-ttls.ts) stops the
 * worker's TTL at once, and asks its release again like an expired worker's if the state machine
 * still lists it `releaseRetryMs` later.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { isFalconError } from '../../src/errors.js';
import type { ToReplicatorFromDispatcher } from '../../src/protocol/dispatch.js';
import type { ToRegistryFromDispatcher } from '../../src/protocol/registry.js';
import { decodeQueueEntry } from '../../src/queue/entry-codec.js';
import { WorkerTtls } from '../../src/registry/worker-ttls.js';
import { FakeConnection, dispatcherOptions } from '../support/fake-dispatch.js';

function dispatcherOn(nodeId: string, toReplicator: ToReplicatorFromDispatcher[], toRegistry: ToRegistryFromDispatcher[]): Dispatcher<FakeConnection> {
  const dispatcher = new Dispatcher<FakeConnection>(dispatcherOptions(nodeId, {
    toReplicator: (message) => toReplicator.push(message), toRegistry: (message) => toRegistry.push(message),
    nowMs: () => 1_000, random: () => 0.25,
  }));
  dispatcher.onReplicatorMessage({ type: 'leadership', leader: 'n1', term: 2, stepping: false });
  return dispatcher;
}

describe('unregister on the leader (Dispatcher)', () => {
  it('proposes releaseWorker (goodbye), tells the Registry at once, and answers the count once applied', () => {
    const toReplicator: ToReplicatorFromDispatcher[] = [];
    const toRegistry: ToRegistryFromDispatcher[] = [];
    const dispatcher = dispatcherOn('n1', toReplicator, toRegistry);
    const connection = new FakeConnection();
    dispatcher.onRequests(connection, [{ id: 7, type: 'unregister', workerId: 'w-1' }]);
    expect(toRegistry).to.deep.equal([{ type: 'unregister', workerId: 'w-1' }]);
    dispatcher.flush();
    const proposal = toReplicator[0];
    if (proposal?.type !== 'propose') throw new Error(`expected a proposal, got ${JSON.stringify(toReplicator)}`);
    const entry = decodeQueueEntry(proposal.data);
    if (isFalconError(entry)) throw new Error(entry.message);
    expect(entry.commands).to.deep.equal([{ type: 'releaseWorker', workerId: 'w-1', reason: 'goodbye', jitterSeed: 2 ** 30 }]);
    expect(connection.replies, 'no answer before the release is applied').to.deep.equal([]);
    dispatcher.onReplicatorMessage({ type: 'applied', batch: proposal.batch, index: 40, results: [{ type: 'counted', jobs: 2 }] });
    expect(connection.replies).to.deep.equal([{ id: 7, jobs: 2 }]);
  });

  it('a follower answers NOT_LEADER with the leader and tells neither the Registry nor the log', () => {
    const toReplicator: ToReplicatorFromDispatcher[] = [];
    const toRegistry: ToRegistryFromDispatcher[] = [];
    const dispatcher = dispatcherOn('n2', toReplicator, toRegistry);
    const connection = new FakeConnection();
    dispatcher.onRequests(connection, [{ id: 3, type: 'unregister', workerId: 'w-1' }]);
    dispatcher.flush();
    expect({ toReplicator, toRegistry }).to.deep.equal({ toReplicator: [], toRegistry: [] });
    expect(connection.replies[0]).to.deep.include({ id: 3 });
    expect((connection.replies[0] as { error?: { code: string } }).error?.code).to.equal('NOT_LEADER');
  });
});

describe('unregister in the TTL table (WorkerTtls)', () => {
  const releaseRetryMs = 2_000;
  const table = (): WorkerTtls => new WorkerTtls({ ttlMs: 5_000, jitterMs: 0, random: () => 0, releaseRetryMs });

  it('stops the TTL at once: releasing, not expired again before releaseRetryMs, asked again after it', () => {
    const ttls = table();
    ttls.reset(['w-1', 'w-2'], 0);
    expect(ttls.unregister('w-1', 1_000)).to.equal(true);
    expect(ttls.view().find((worker) => worker.workerId === 'w-1')).to.deep.include({ releasing: true, deadlineMs: 1_000 });
    expect(ttls.takeExpired(1_000 + releaseRetryMs - 1), 'the Dispatcher proposed the release already').to.deep.equal([]);
    expect(ttls.takeExpired(1_000 + releaseRetryMs), 'still listed: asked again like an expired worker').to.deep.equal(['w-1']);
    expect(ttls.view().find((worker) => worker.workerId === 'w-2')).to.deep.include({ releasing: false, deadlineMs: 5_000 });
  });

  it('a worker it does not track is no error; the state machine dropping it ends the tracking', () => {
    const ttls = table();
    ttls.reset(['w-1'], 0);
    expect(ttls.unregister('w-unknown', 10)).to.equal(false);
    ttls.unregister('w-1', 10);
    ttls.reconcile([], 20);
    expect(ttls.size).to.equal(0);
    expect(ttls.takeExpired(10_000)).to.deep.equal([]);
  });
});
