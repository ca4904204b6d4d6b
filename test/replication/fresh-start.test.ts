/**
 * A node whose WAL holds nothing decides from its peers' handshakes whether it bootstraps a
 * brand-new cluster or must be caught up before it votes (src/replication/fresh-start.ts), and
 * the replica loop builds no core (so it neither votes nor campaigns) until that decision is
 * durable: the hard state with the cluster's name, or the needs-catch-up marker.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { FreshStartGate } from '../../src/replication/fresh-start.js';
import { ReplicaLoop, type ReplicaLoopOptions } from '../../src/replication/replica-loop.js';
import { AppliedHashChain } from '../../src/replication/applied-hash-chain.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { FalconError } from '../../src/errors.js';
import type { FromWal, ToWal, WalRecoveredMessage } from '../../src/protocol/wal.js';

const voters = ['n1', 'n2', 'n3'];
const blank = { blank: true };
const established = { blank: false };

describe('fresh start verdict', () => {
  it('catches up at once when any peer holds state of the cluster, even after a blank one', () => {
    const gate = new FreshStartGate('n2', voters, 10);
    expect(gate.initialVerdict()).to.equal(null);
    expect(gate.onPeerHandshake('n3', blank), 'a blank majority waits for the rest').to.equal(null);
    expect(gate.onPeerHandshake('n1', established)).to.include({ kind: 'catchUp' });
    expect(gate.onTick(), 'the verdict is given once').to.equal(null);
  });

  it('bootstraps at once when every peer is blank (a brand-new cluster started together)', () => {
    const gate = new FreshStartGate('n1', voters, 10);
    expect(gate.onPeerHandshake('n2', blank)).to.equal(null);
    expect(gate.onPeerHandshake('n3', blank)).to.include({ kind: 'bootstrap' });
  });

  it('with only a blank majority heard, bootstraps after the wait unless a peer with state shows up', () => {
    const gate = new FreshStartGate('n1', voters, 3);
    expect(gate.onTick(), 'no majority heard yet: no countdown').to.equal(null);
    expect(gate.onPeerHandshake('n2', blank)).to.equal(null);
    expect(gate.onTick()).to.equal(null);
    expect(gate.onTick()).to.equal(null);
    expect(gate.onTick()).to.include({ kind: 'bootstrap' });

    const slow = new FreshStartGate('n1', voters, 3);
    slow.onPeerHandshake('n2', blank);
    slow.onTick();
    expect(slow.onPeerHandshake('n3', established), 'a slow peer with state still wins').to.include({ kind: 'catchUp' });
  });

  it('never bootstraps without a blank majority: alone it waits for as long as it takes', () => {
    const gate = new FreshStartGate('n1', ['n1', 'n2', 'n3', 'n4', 'n5'], 1);
    expect(gate.onPeerHandshake('n2', blank)).to.equal(null);
    for (let tick = 0; tick < 100; tick += 1) expect(gate.onTick()).to.equal(null);
    expect(gate.status).to.deep.equal({ waitingForPeers: true, heard: { n2: true } });
  });

  it('a cluster of one bootstraps at once', () => {
    expect(new FreshStartGate('n1', ['n1'], 10).initialVerdict()).to.include({ kind: 'bootstrap' });
  });
});

/** A replica loop over a scripted WAL that recovered `recovered`, with what it sent recorded. */
function loopOver(recovered: Partial<WalRecoveredMessage>, clusterName = 'falcon-test'): { loop: ReplicaLoop; sent: ToWal[]; failures: FalconError[] } {
  const sent: ToWal[] = [];
  const failures: FalconError[] = [];
  const options: ReplicaLoopOptions = {
    id: 'n1', voters, raft: { electionTimeoutTicksMin: 4, electionTimeoutTicksMax: 8, heartbeatIntervalTicks: 1 }, random: new SeededRandom(7),
    stateMachine: new AppliedHashChain(),
    host: { toWal: (message) => sent.push(message), schedule: () => undefined, fail: (error) => failures.push(error), warn: () => undefined },
    peers: { send: () => true, closeConnection: () => undefined, isConnected: () => true },
    entriesBehindAppliedMax: 100, walRequestBytesMax: 1 << 20, snapshotEveryEntries: 1000, snapshotEveryBytes: 1 << 20, incarnation: 1, bootId: 1,
    clusterName,
  };
  const loop = new ReplicaLoop(options);
  loop.start();
  loop.onWalReply({
    type: 'walRecovered', firstIndex: 1, lastIndex: 0, lastTerm: 0, hardState: null, snapshot: null, needsCatchUp: null, ...recovered,
  });
  return { loop, sent, failures };
}

describe('replica loop on an empty WAL', () => {
  it('builds no core and says it is blank until its peers decided; a peer with state makes it set the marker first', () => {
    const { loop, sent } = loopOver({});
    expect(loop.node, 'no core: it can neither vote nor campaign').to.equal(undefined);
    expect(loop.handshake).to.deep.equal({ blank: true });
    for (let tick = 0; tick < 50; tick += 1) loop.tick();
    expect(loop.node).to.equal(undefined);
    loop.onPeerHandshake('n2', established);
    expect(sent.at(-1)).to.include({ type: 'markNeedsCatchUp' });
    expect(loop.handshake, 'it knows of the cluster now').to.deep.equal({ blank: false });
    expect(loop.node, 'no core before the marker is durable').to.equal(undefined);
    const reason = (sent.at(-1) as { reason: string }).reason;
    loop.onWalReply({ type: 'needsCatchUpMarked', reason } satisfies FromWal);
    expect(loop.node?.status().catchingUp).to.equal(true);
  });

  it('bootstraps with a blank peer majority: the identity is durable before the core may vote', () => {
    const { loop, sent } = loopOver({});
    loop.onPeerHandshake('n2', blank);
    loop.onPeerHandshake('n3', blank);
    expect(sent.at(-1)).to.deep.equal({ type: 'saveHardState', state: { term: 0, vote: null, commit: 0, cluster: 'falcon-test' } });
    expect(loop.node).to.equal(undefined);
    loop.onWalReply({ type: 'hardStateSaved', state: { term: 0, vote: null, commit: 0, cluster: 'falcon-test' } });
    expect(loop.node?.status().catchingUp).to.equal(false);
    expect(loop.handshake, 'still blank until its first election').to.deep.equal({ blank: true });
  });

  it('a restart with its data intact starts at once and is not blank', () => {
    const { loop } = loopOver({ hardState: { term: 3, vote: 'n2', commit: 0, cluster: 'falcon-test' } });
    expect(loop.node?.status().catchingUp).to.equal(false);
    expect(loop.handshake).to.deep.equal({ blank: false });
  });

  it('refuses a data directory of another cluster, naming both', () => {
    const { loop, failures } = loopOver({ hardState: { term: 3, vote: null, commit: 0, cluster: 'alpha' } }, 'beta');
    expect(loop.node).to.equal(undefined);
    expect(failures[0]?.code).to.equal('CONFIG_INVALID');
    expect(failures[0]?.message).to.match(/belongs to cluster 'alpha'.*names cluster 'beta'/);
  });
});
