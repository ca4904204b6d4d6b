/**
 * The two halves every real-process catch-up scenario shares: while the only node holding a
 * committed entry e is down, no leader may arise among the others (a node that lost e must refuse
 * its vote); once that node is back, it alone can lead, everyone converges with e, and the node
 * that lost e leaves the catch-up state.
 *
 * Runs on: test process.
 */
import { expect } from 'chai';
import type { ClusterNodes } from './cluster-nodes.js';

/** Two election timeouts and more (300-600 ms each): the others campaign again and again meanwhile. */
const noLeaderWatchMs = 2_500;

/** Polls `ids` for `noLeaderWatchMs` and fails at once if any of them leads. */
export async function expectNoLeaderWithout(nodes: ClusterNodes, ids: readonly string[], entry: string): Promise<void> {
  const deadline = Date.now() + noLeaderWatchMs;
  while (Date.now() < deadline) {
    const views = await nodes.views(ids);
    expect(views.some((view) => view?.role === 'leader'), `no leader without ${entry}: ${JSON.stringify(views)}`).to.equal(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts `holder` again; it must be the leader all of `ids` agree on, commit a new load, bring
 * every node to at least `entryIndex`, and `lost` must leave the catch-up state.
 */
export async function expectHolderLeadsAndCatchesUp(nodes: ClusterNodes, ids: readonly string[], holder: string, lost: string, entryIndex: number): Promise<void> {
  nodes.start(holder);
  const back = await nodes.leaderAgreedBy(ids, 20_000);
  expect(back.node, 'only the node holding e can lead').to.equal(holder);
  const after = await nodes.load(back.node, 10, 10);
  expect(after.ok, after.error).to.equal(true);
  const all = await nodes.converged(ids, after.lastIndex, 20_000);
  expect(all.appliedIndex).to.be.at.least(entryIndex);
  await nodes.until([lost], (views) => (views[0]?.catchingUp === false ? views[0] : undefined), `${lost} leaves the catch-up state`, 10_000);
}
