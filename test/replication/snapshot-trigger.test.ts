/**
 * The snapshot rule the replica loop follows (src/replication/snapshot-trigger.ts): a snapshot is
 * due once either bound is reached, by entries or by bytes, and not before.
 */
import { expect } from 'chai';
import { isSnapshotDue } from '../../src/replication/snapshot-trigger.js';

const trigger = { entriesSinceSnapshotMax: 100, bytesSinceSnapshotMax: 4096 };

describe('snapshot trigger', () => {
  it('is not due while both the entries and the bytes since the last snapshot are under their bounds', () => {
    expect(isSnapshotDue(trigger, 99, 4095)).to.equal(false);
  });

  it('is due once the entries since the last snapshot reach their bound, however few bytes they hold', () => {
    expect(isSnapshotDue(trigger, 100, 0)).to.equal(true);
  });

  it('is due once the bytes since the last snapshot reach their bound, however few entries hold them', () => {
    expect(isSnapshotDue(trigger, 1, 4096)).to.equal(true);
  });
});
