/**
 * Three real falcon-node processes on loopback: they elect one leader, replicate and commit on all
 * three; they survive kill -9 of the leader without losing anything committed and catch the old
 * leader up (from its log, or from a snapshot when the log it needs is compacted); a paused
 * follower does not disturb the leader, and a paused leader is replaced and steps down on resume.
 */
import { expect } from 'chai';
import { connect } from 'node:net';
import { encodeFrame } from '../../src/net/frame-decoder.js';
import { encode } from '../../src/codec/msgpack.js';
import { startedClusterPerTest } from '../support/cluster-nodes.js';

const ids = ['n1', 'n2', 'n3'];
const settings = `
raft:
  snapshotEveryEntries: 400
wal:
  segmentBytes: 65536
`;

describe('raft cluster (real processes)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({ nodeCount: 3, extraYaml: settings });

  it('elects one leader and commits proposals on all three nodes', async () => {
    const { nodes } = started;
    const leader = await nodes.leaderAgreedBy(ids);
    const result = await nodes.load(leader.node, 1000, 10);
    expect(result, JSON.stringify(result)).to.include({ ok: true, committed: 1000 });
    const converged = await nodes.converged(ids, result.lastIndex);
    expect(converged.appliedIndex).to.be.at.least(result.lastIndex);
  });

  it('survives kill -9 of the leader: a new leader commits, the old one catches up, nothing committed is lost', async () => {
    const { nodes } = started;
    const first = await nodes.leaderAgreedBy(ids);
    const before = await nodes.load(first.node, 600, 10);
    expect(before.ok, before.error).to.equal(true);
    const agreed = await nodes.converged(ids, before.lastIndex);
    await nodes.kill9(first.node);
    const survivors = ids.filter((id) => id !== first.node);
    const second = await nodes.leaderAgreedBy(survivors, 10_000);
    expect(second.node).to.not.equal(first.node);
    expect(second.term).to.be.greaterThan(first.term);
    const after = await nodes.load(second.node, 1000, 10);
    expect(after.ok, after.error).to.equal(true);
    expect(after.lastIndex).to.be.greaterThan(agreed.appliedIndex);
    // The old leader restarts behind a snapshot (snapshotEveryEntries: 400) and must catch up.
    nodes.start(first.node);
    const all = await nodes.converged(ids, after.lastIndex, 20_000);
    expect(all.appliedIndex).to.be.at.least(after.lastIndex);
    const views = await nodes.views(ids);
    expect(views.every((view) => view?.leader === second.node), 'the restarted node follows the new leader').to.equal(true);
    const restarted = views[ids.indexOf(first.node)];
    expect(restarted?.snapshotsInstalled, 'the log it needed was compacted: it caught up from a snapshot').to.be.at.least(1);
  });

  it('a paused follower does not disturb the leader, and a paused leader is replaced and steps down on resume', async () => {
    const { nodes } = started;
    const leader = await nodes.leaderAgreedBy(ids);
    const follower = ids.find((id) => id !== leader.node) ?? 'n1';
    nodes.signal(follower, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // beyond the 500 ms election timeout: the pause is the test
    nodes.signal(follower, 'SIGCONT');
    const undisturbed = await nodes.leaderAgreedBy(ids);
    expect(undisturbed.node, 'pre-vote: the resumed follower did not depose the leader').to.equal(leader.node);
    expect(undisturbed.term).to.equal(leader.term);

    nodes.signal(leader.node, 'SIGSTOP');
    const others = ids.filter((id) => id !== leader.node);
    const replacement = await nodes.leaderAgreedBy(others, 10_000);
    expect(replacement.term).to.be.greaterThan(leader.term);
    const committed = await nodes.load(replacement.node, 200, 10);
    expect(committed.ok, committed.error).to.equal(true);
    nodes.signal(leader.node, 'SIGCONT');
    const settled = await nodes.leaderAgreedBy(ids, 10_000);
    expect(settled.node).to.equal(replacement.node);
    const old = await nodes.view(leader.node);
    expect(old?.role, 'the resumed old leader stepped down').to.equal('follower');
    await nodes.converged(ids, committed.lastIndex);
  });

  it('a leader stopped with SIGTERM hands leadership to its most caught-up follower, and exits once the new leader commits', async () => {
    const { nodes } = started;
    const leader = await nodes.leaderAgreedBy(ids);
    const committed = await nodes.load(leader.node, 200, 10);
    expect(committed.ok, committed.error).to.equal(true);
    await nodes.converged(ids, committed.lastIndex);
    nodes.signal(leader.node, 'SIGTERM');
    const exit = await nodes.process(leader.node).exited;
    expect(exit, nodes.logsTail()).to.equal(0);
    // It stops only once it applied the new leader's first entry: its own stop (a core's worth of
    // work while the kernel frees its memory) does not compete with that election and commit.
    const handedTo = /leadership handed to (n\d); the new leader commits/.exec(nodes.process(leader.node).output())?.[1];
    expect(handedTo, `the old leader logs the hand-over and the new leader's first commit\n${nodes.logsTail()}`).to.be.a('string');
    const survivors = ids.filter((id) => id !== leader.node);
    const next = await nodes.leaderAgreedBy(survivors, 5_000);
    expect(next.node).to.equal(handedTo);
    expect(next.term, 'one transfer election, no election timeout in between').to.equal(leader.term + 1);
    const after = await nodes.load(next.node, 100, 10);
    expect(after.ok, after.error).to.equal(true);
  });

  it('a leader stopped while its followers stop too hands leadership to none of them and exits at once', async () => {
    const { nodes } = started;
    const leader = await nodes.leaderAgreedBy(ids);
    const followers = ids.filter((id) => id !== leader.node);
    for (const id of followers) nodes.signal(id, 'SIGTERM');
    await nodes.until([], () => (followers.every((id) => nodes.process(id).output().includes('will not campaign again')) ? true : undefined),
      'both followers stopping', 10_000);
    nodes.signal(leader.node, 'SIGTERM');
    for (const id of ids) expect(await nodes.process(id).exited, `${id}\n${nodes.logsTail()}`).to.equal(0);
    const output = nodes.process(leader.node).output();
    expect(output, 'a stopping follower does not take over').to.not.match(/leadership handed to/);
    expect(output, 'the leader does not wait out a transfer').to.not.match(/did not finish in/);
  });

  it('disconnects a peer that sends a malformed Raft message and keeps serving', async () => {
    const { nodes } = started;
    const leader = await nodes.leaderAgreedBy(ids);
    const socket = connect({ host: '127.0.0.1', port: nodes.node('n3').peerPort });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const welcomed = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(encodeFrame(encode({ type: 'hello', version: 1, cluster: 'falcon-test', from: 'n1', to: 'n3' })));
    await welcomed;
    socket.write(encodeFrame(encode({ type: 'append', from: 'n1', to: 'n3', term: leader.term, prevIndex: -5, prevTerm: 'x', entries: 7, commit: 1 })));
    await closed;
    const healthy = await fetch(`${nodes.opsUrl('n3')}/healthz`);
    expect(healthy.status).to.equal(200);
    const after = await nodes.leaderAgreedBy(ids);
    const committed = await nodes.load(after.node, 50, 10);
    expect(committed.ok, committed.error).to.equal(true);
    await nodes.converged(ids, committed.lastIndex);
  });
});
