/**
 * Attack on `RaftNode.entriesLoaded()` (a leader sends entries its storage just loaded from disk
 * at once): random interleavings of ticks, deliveries, losses, crashes, partitions, snapshots
 * with compaction and storages that answer 'unavailable' for old entries, with `entriesLoaded`
 * called on any node at any moment (after leadership moved, after a truncation, after a
 * snapshot). After every call: nothing sent by a non-leader, no append to a follower in snapshot
 * state, at most one append per follower, the inflight window within its bounds; no assertion
 * anywhere; and once the faults stop, every node converges.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { unavailable } from '../../src/raft/log-storage.js';
import type { RaftMessage } from '../../src/raft/raft-messages.js';
import { SeededRandom } from '../../src/raft/random.js';
import { describeMessage, RaftTestCluster } from './raft-test-cluster.js';

const ids = ['n1', 'n2', 'n3'];
const inflightMessagesMax = 2;
const membership = { voters: ids, learners: [] };
/** What the runs did, so that a pass means something. */
const stats = { steps: 0, leaderSteps: 0, laggingSteps: 0, appendsFromLoads: 0, loadsOnLeader: 0, loadsWithPeerInSnapshot: 0, unavailableAnswers: 0 };

/** Nodes whose storage answered 'unavailable' since their last load, and those whose load just arrived. */
const loads = { pending: new Set<string>(), arrived: new Set<string>() };

/** Old entries (at or below the node's applied index) are often 'unavailable', except right
 *  after a load arrived (`entriesLoaded`). */
function makeStoragesForgetful(cluster: RaftTestCluster, random: SeededRandom, forgetful: { on: boolean }): void {
  for (const id of ids) {
    const storage = cluster.storage(id);
    const inMemory = storage.entries.bind(storage);
    storage.entries = (fromIndex, toIndex, bytesMax) => {
      const node = cluster.nodes.get(id);
      const applied = node?.status().applied ?? 0;
      if (forgetful.on && fromIndex <= applied && !loads.arrived.has(id) && random.chance(0.6)) {
        stats.unavailableAnswers++;
        loads.pending.add(id);
        return unavailable;
      }
      return inMemory(fromIndex, toIndex, bytesMax);
    };
  }
}

function entriesLoadedChecked(cluster: RaftTestCluster, id: string): string | null {
  const node = cluster.nodes.get(id);
  if (node === undefined) return null;
  cluster.processReadies(id);
  const before = node.status();
  const sentBefore = cluster.inFlight.length;
  loads.pending.delete(id);
  loads.arrived.add(id);
  try {
    node.entriesLoaded();
    cluster.processReadies(id);
  } finally {
    loads.arrived.delete(id);
  }
  const sent: RaftMessage[] = cluster.inFlight.slice(sentBefore).filter((message) => message.from === id);
  if (before.role !== 'leader') return sent.length === 0 ? null : `${id} (${before.role}) sent ${sent.map(describeMessage).join('; ')}`;
  const after = node.status();
  stats.loadsOnLeader++;
  if (before.peers.some((peer) => peer.state === 'snapshot')) stats.loadsWithPeerInSnapshot++;
  stats.appendsFromLoads += sent.filter((message) => message.type === 'append').length;
  const appendsTo = new Map<string, number>();
  for (const message of sent) {
    if (message.type !== 'append') continue;
    appendsTo.set(message.to, (appendsTo.get(message.to) ?? 0) + 1);
    const peer = before.peers.find((candidate) => candidate.id === message.to);
    if (peer?.state === 'snapshot') return `append to ${message.to} in snapshot state: ${describeMessage(message)}`;
    if (message.term !== before.term) return `append in term ${message.term} from a leader of term ${before.term}`;
  }
  for (const [to, count] of appendsTo) if (count > 1) return `${count} appends to ${to} from one entriesLoaded`;
  for (const peer of after.peers) {
    if (peer.inflightMessages > inflightMessagesMax) return `${peer.id} has ${peer.inflightMessages} appends in flight, bound ${inflightMessagesMax}`;
  }
  return null;
}

function runSeed(seed: number): string | null {
  const random = new SeededRandom(seed);
  const cluster = new RaftTestCluster(ids, { inflightMessagesMax, appendBytesMax: 64, checkQuorum: seed % 2 === 0 }, seed);
  const forgetful = { on: true };
  loads.pending.clear();
  makeStoragesForgetful(cluster, random, forgetful);
  cluster.elect('n1');
  let value = 0;
  for (let step = 0; step < 1500; step++) {
    const up = ids.filter((id) => cluster.nodes.has(id));
    const id = up[random.below(up.length)] ?? 'n1';
    const action = random.below(100);
    stats.steps++;
    const leaderNow = up.map((candidate) => cluster.node(candidate).status()).find((status) => status.role === 'leader');
    if (leaderNow !== undefined) {
      stats.leaderSteps++;
      if (leaderNow.peers.some((peer) => peer.match < leaderNow.applied && peer.id !== leaderNow.id)) stats.laggingSteps++;
    }
    if (action < 25) {
      const waiting = [...loads.pending].filter((candidate) => cluster.nodes.has(candidate));
      const failure = entriesLoadedChecked(cluster, waiting.length > 0 && random.chance(0.7) ? waiting[0] as string : id);
      if (failure !== null) return `step ${step}: ${failure}`;
    } else if (action < 40) {
      cluster.tick(id);
    } else if (action < 60) {
      cluster.deliver(() => random.chance(0.6));
      cluster.inFlight = cluster.inFlight.filter(() => !random.chance(0.1));
    } else if (action < 70) {
      cluster.persist(id);
    } else if (action < 82) {
      const leader = up.find((candidate) => cluster.node(candidate).status().role === 'leader');
      if (leader !== undefined) for (let count = 0; count < 1 + random.below(12); count++) cluster.propose(leader, `v${value++}`);
    } else if (action < 86) {
      // Long isolations: followers fall behind the leader's applied index.
      const follower = up.find((candidate) => candidate !== leaderNow?.id && random.chance(0.5));
      if (random.chance(0.3) && follower !== undefined) {
        cluster.heal();
        cluster.isolate(follower);
      }
      else if (random.chance(0.15)) cluster.heal();
    } else if (action < 87) {
      if (up.length === ids.length) cluster.crash(id);
      else for (const down of ids.filter((candidate) => !cluster.nodes.has(candidate))) cluster.start(down);
    } else if (action < 95) {
      // A snapshot at the applied index, and compaction up to part of it.
      cluster.persist(id);
      const status = cluster.node(id).status();
      const storage = cluster.storage(id);
      const applied = Math.min(status.applied, storage.lastIndex());
      if (random.chance(0.2) && applied > (storage.heldSnapshot?.index ?? 0) && applied >= storage.firstIndex()) {
        storage.saveLocalSnapshot(applied, new Uint8Array(0), membership);
        storage.compact(applied - random.below(3));
      }
    } else {
      for (let tick = 0; tick < 3; tick++) for (const other of up) cluster.tick(other);
    }
    if (leaderNow === undefined && random.chance(0.3)) {
      // No leader: time passes until an election ends (or gives up for now).
      for (let tick = 0; tick < 25; tick++) {
        for (const other of ids.filter((candidate) => cluster.nodes.has(candidate))) cluster.tick(other);
        cluster.deliver(() => true);
      }
    }
  }
  // The faults stop: everything is delivered, nothing is forgotten; every node converges.
  forgetful.on = false;
  cluster.heal();
  for (const id of ids) if (!cluster.nodes.has(id)) cluster.start(id);
  for (let round = 0; round < 200; round++) {
    for (const id of ids) cluster.tick(id);
    cluster.stabilize();
    const statuses = ids.map((id) => cluster.node(id).status());
    const leader = statuses.find((status) => status.role === 'leader');
    if (leader !== undefined && statuses.every((status) => status.commit === leader.lastIndex && status.applied === status.commit)) return null;
  }
  return `no convergence: ${ids.map((id) => JSON.stringify({ ...cluster.node(id).status(), peers: undefined })).join(' ')}`;
}

describe('attack: entriesLoaded under any message order', () => {
  it('sends only from a leader, never to a follower in snapshot state, within the inflight bounds, and the cluster converges (300 seeds)', () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      let failure: string | null;
      try {
        failure = runSeed(seed);
      } catch (error) {
        failure = `threw ${(error as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(error)}`;
      }
      if (failure !== null) failures.push(`seed ${seed}: ${failure}`);
    }
    expect(failures).to.deep.equal([]);
    expect(stats.unavailableAnswers, JSON.stringify(stats)).to.be.greaterThan(1000);
    expect(stats.appendsFromLoads, JSON.stringify(stats)).to.be.greaterThan(200);
    expect(stats.loadsWithPeerInSnapshot, JSON.stringify(stats)).to.be.greaterThan(1000);
  });
});
