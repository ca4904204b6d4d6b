/**
 * The Raft load generator behind /debug/raft-load: it must ask for a Ready cycle only when it
 * would propose, so that a load that waits for commits leaves the Replicator's thread asleep (a
 * generator that asked for a cycle on every turn spun one core of a 2-core machine for the whole
 * run, and the benchmark measured that instead of the replication path).
 */
import { expect } from 'chai';
import { falconError, success, type Outcome } from '../../src/errors.js';
import type { LogEntry } from '../../src/log/log-entry.js';
import type { ProposalEntry } from '../../src/raft/proposal-entry.js';
import type { ProposalPlacement } from '../../src/raft/raft-node.js';
import type { RaftLoadRequest } from '../../src/protocol/control.js';
import { RaftLoad } from '../../src/replication/raft-load.js';

const request = (fields: Partial<RaftLoadRequest> = {}): RaftLoadRequest =>
  ({ type: 'raftLoad', entries: 10, batch: 1, payloadBytes: 8, inflight: 2, timeoutMs: 60_000, ...fields });

/** A leader at term 1 that appends from index 1 on. */
function leaderLog(): { propose: (entries: readonly ProposalEntry[]) => Outcome<ProposalPlacement>; nextIndex: () => number } {
  let next = 1;
  return {
    propose: (entries) => {
      const firstIndex = next;
      next += entries.length;
      return success({ kind: 'appended', term: 1, firstIndex, lastIndex: next - 1 });
    },
    nextIndex: () => next,
  };
}

const applied = (index: number, term = 1): LogEntry => ({ index, term, type: 0, data: new Uint8Array(8) });

describe('raft load generator', () => {
  it('wants a cycle only while its in-flight window has room', () => {
    const load = new RaftLoad(request({ inflight: 2 }), () => 0);
    const log = leaderLog();
    expect(load.wantsToPropose, 'before the first proposal').to.equal(true);
    load.proposeDue(log.propose);
    expect(log.nextIndex()).to.equal(3);
    expect(load.wantsToPropose, 'window of 2 full').to.equal(false);
    expect(load.active, 'still running').to.equal(true);
    load.onApplied(applied(1));
    expect(load.wantsToPropose, 'one proposal applied').to.equal(true);
  });

  it('after a refusal for want of room, waits for an apply instead of retrying every turn', () => {
    const load = new RaftLoad(request({ inflight: 4 }), () => 0);
    load.proposeDue(leaderLog().propose);
    load.onApplied(applied(1));
    load.proposeDue(() => ({ ok: false, error: falconError('PROPOSAL_DROPPED', 'over the uncommitted bound') }));
    expect(load.wantsToPropose, 'refused: room comes back only with an apply').to.equal(false);
    load.onApplied(applied(2));
    expect(load.wantsToPropose).to.equal(true);
  });

  it('wants nothing once every entry is proposed, and finishes when all are applied', async () => {
    const load = new RaftLoad(request({ entries: 2, inflight: 8 }), () => 0);
    const log = leaderLog();
    load.proposeDue(log.propose);
    expect(load.wantsToPropose, 'all proposed').to.equal(false);
    load.onApplied(applied(1));
    load.onApplied(applied(2));
    const result = await load.done;
    expect(result).to.include({ ok: true, committed: 2, lost: 0 });
    expect(load.wantsToPropose).to.equal(false);
  });
});
