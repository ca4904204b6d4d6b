/**
 * Attack on the Replicator keeping only a few entries behind its applied index (c3b28a7, 4,096 in
 * production; here 1 to 8, so that nearly every catch-up goes through WAL reads): a follower
 * thousands of entries behind catches up from WAL reads while the load goes on, also when it
 * restarts in the middle of it and when the leader restarts; nothing stalls.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { SimNode } from './sim-node.js';
import { afterEveryEvent, quietOptions, withLateNode } from './scenario-support.js';

interface Knobs {
  readonly windowEntries: number;
  readonly readBytes: number;
  readonly proposalIntervalUs: number;
  /** Ticks at which a node restarts (a process kill): 'follower' is the late one, 'leader' the leader then. */
  readonly restarts: ReadonlyArray<readonly [number, 'follower' | 'leader']>;
}

function catchUpTicks(knobs: Knobs): { ok: boolean; failure: string | null; caughtUpAfterTicks: number | null; reads: number } {
  const options = quietOptions({
    faultTicks: 1_000,
    raft: { inflightMessagesMax: 4, inflightBytesMax: 1 << 16 },
    disk: { latencyUsMax: 2_000 },
    workload: { proposalIntervalUs: knobs.proposalIntervalUs, outstandingMax: 256, paddingBytesMax: 64 },
    storage: { segmentBytes: 65_536, tailCacheEntries: knobs.windowEntries, walRequestBytesMax: knobs.readBytes, walRingMessagesMax: 64 },
    compaction: { snapshotEveryEntries: 1_000_000 },
  });
  const startTick = 300;
  const simulation = withLateNode(options, 2, startTick);
  const n3 = simulation.nodes[2] as SimNode;
  for (const [tick, who] of knobs.restarts) {
    simulation.queue.schedule(tick * options.tickUs, -1, 0, () => {
      const node = who === 'follower' ? n3 : simulation.nodes.find((candidate) => candidate.core?.role === 'leader');
      if (node === undefined || !node.isUp) return;
      node.crash(false);
      simulation.startNode(node);
    });
  }
  let reads = 0;
  const onWalRequest = simulation.onWalRequest.bind(simulation);
  simulation.onWalRequest = (node, message) => {
    if (message.type === 'read') reads++;
    onWalRequest(node, message);
  };
  let caughtUpAt: number | null = null;
  const lastRestart = Math.max(startTick, ...knobs.restarts.map(([tick]) => tick));
  afterEveryEvent(simulation, () => {
    const tick = simulation.nowUs() / options.tickUs;
    if (caughtUpAt === null && simulation.faultPhase && tick > lastRestart && n3.appliedIndex >= simulation.checker.maxCommitted - 20) caughtUpAt = tick;
  });
  const result = simulation.run();
  return { ok: result.ok, failure: result.failure, caughtUpAfterTicks: caughtUpAt === null ? null : Math.round(caughtUpAt - lastRestart), reads };
}

describe('attack: a follower far behind a small in-memory window catches up under load', function () {
  this.timeout(180_000);

  const cases: ReadonlyArray<[string, Knobs]> = [
    ['window 8, reads of 4 KB', { windowEntries: 8, readBytes: 4096, proposalIntervalUs: 2_000, restarts: [] }],
    ['window 1, reads of 256 bytes (a read per entry or two)', { windowEntries: 1, readBytes: 256, proposalIntervalUs: 2_000, restarts: [] }],
    ['window 8, the follower restarts mid-catch-up', { windowEntries: 8, readBytes: 4096, proposalIntervalUs: 2_000, restarts: [[320, 'follower']] }],
    ['window 8, the leader restarts mid-catch-up', { windowEntries: 8, readBytes: 4096, proposalIntervalUs: 2_000, restarts: [[310, 'leader']] }],
  ];
  for (const [name, knobs] of cases) {
    it(`${name}: caught up within 300 ticks of load`, () => {
      const outcome = catchUpTicks(knobs);
      expect(outcome.ok, outcome.failure ?? '').to.equal(true);
      expect(outcome.caughtUpAfterTicks, JSON.stringify(outcome)).to.not.equal(null);
      expect(outcome.caughtUpAfterTicks as number, JSON.stringify(outcome)).to.be.at.most(300);
      expect(outcome.reads, 'the catch-up went through WAL reads').to.be.greaterThan(0);
    });
  }
});
