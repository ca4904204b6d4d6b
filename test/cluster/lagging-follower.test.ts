/**
 * Three real falcon-node processes: a follower paused (SIGSTOP) for 2.5 s while the leader commits
 * tens of thousands of entries per second catches up on resume without crashing. Catching up
 * floods its Replicator→WAL ring; every write must still reach the WAL in log order (issue 7,
 * point 9: a write deferred on a full ring used to be overtaken by later ones, and the WAL writer
 * stopped the node on `append of encoded index … after …`). The leader serves it from its WAL:
 * it keeps only the last few thousand applied entries in memory, and each read is sent on as
 * soon as it arrives (one read per heartbeat held such a catch-up to a crawl).
 *
 * The rings are made small (64 KiB, the smallest the config allows) so that catching up fills
 * them every time, not only on a slow disk.
 */
import { expect } from 'chai';
import { startedClusterPerTest, type ClusterNodes } from '../support/cluster-nodes.js';

const ids = ['n1', 'n2', 'n3'];
const settings = `
ring:
  capacityBytes: 65536
queue:
  payloadBytesMax: 16384
`;
const pauseMs = 2_500;
/** About 3 s of load at ~30K entries/s (longer on a busy machine): it runs before, during and after the pause. */
const loadEntries = 90_000;

/** Rejects as soon as one of the node processes exits, naming it and its exit code. */
function anyExit(nodes: ClusterNodes): Promise<never> {
  return Promise.race(ids.map(async (id) => {
    const code = await nodes.process(id).exited;
    throw new Error(`node ${id} exited with ${code} during the test\n${nodes.logsTail()}`);
  }));
}

describe('a follower far behind under load (real processes)', function () {
  this.timeout(60_000);
  const started = startedClusterPerTest({ nodeCount: 3, extraYaml: settings });

  it('catches up after a 2.5 s pause under load: all three apply the same entries, no actor restarts, no node exits', async () => {
    const { nodes } = started;
    const exited = anyExit(nodes);
    exited.catch(() => undefined); // raced below; this only keeps an early exit from going unhandled
    const leader = await Promise.race([nodes.leaderAgreedBy(ids, 30_000), exited]); // generous: start-up on a busy machine
    const follower = ids.find((id) => id !== leader.node) ?? 'n1';
    const load = nodes.load(leader.node, loadEntries, 64, { inflight: 16, timeoutMs: 30_000 });
    // Pause once the load is visibly running, so that the follower falls behind a moving log.
    await Promise.race([nodes.until([leader.node], ([view]) => (view !== undefined && view.commit > leader.commit + 2_000 ? view : undefined),
      'the leader committing the load', 10_000), exited]);
    nodes.signal(follower, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, pauseMs)); // the pause is the scenario, not a synchronisation
    nodes.signal(follower, 'SIGCONT');
    const result = await Promise.race([load, exited]);
    expect(result.ok, `load on ${leader.node}: ${result.error ?? ''}`).to.equal(true);
    const converged = await Promise.race([nodes.converged(ids, result.lastIndex, 20_000), exited]);
    expect(converged.appliedIndex).to.be.at.least(result.lastIndex);
    const catchUpReads = await nodes.replicatorCounter(leader.node, 'catchUpReads');
    expect(catchUpReads, `the leader read old entries from its WAL for ${follower} (so the test took the disk path too)`).to.be.greaterThan(0);
    const queued = await nodes.linkSendsQueued(follower, 'replicator');
    expect(queued?.['walWriter'], `the catch-up filled ${follower}'s Replicator→WAL ring (so the test took the path it is about)`).to.be.greaterThan(0);
    for (const id of ids) {
      const actors = await nodes.actorRestarts(id);
      expect(actors, `${id} answers /status`).to.not.equal(undefined);
      for (const [actor, figures] of Object.entries(actors ?? {})) {
        expect(figures.restarts, `${id} ${actor} restarted (last failure: ${figures.lastFailure ?? 'none'})`).to.equal(0);
        expect(figures.state, `${id} ${actor}`).to.equal('ready');
      }
    }
  });
});
