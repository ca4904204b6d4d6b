/**
 * The "did you mean" hint for a misspelt key: close typos find their key, unrelated words do not
 * get a misleading guess.
 *
 * Runs on: the mocha process.
 */

import { expect } from 'chai';
import { nearestKey } from '../../src/config/nearest-key.js';
import { raftShape } from '../../src/config/cluster-config.js';

const raftKeys = Object.keys(raftShape);

describe('suggesting the key a misspelt one meant', () => {
  it('finds the key behind a wrong case, a missing unit, a swap or a snake_case spelling', () => {
    expect(nearestKey('HeartbeatIntervalMS', raftKeys)).to.equal('heartbeatIntervalMs');
    expect(nearestKey('heartbeatInterval', raftKeys)).to.equal('heartbeatIntervalMs');
    expect(nearestKey('perVote', raftKeys)).to.equal('preVote');
    expect(nearestKey('inflight_bytes_max', raftKeys)).to.equal('inflightBytesMax');
    expect(nearestKey('electionTimeoutMSMax', raftKeys)).to.equal('electionTimeoutMsMax');
  });

  it('gives no suggestion for an unrelated key', () => {
    expect(nearestKey('listenAddress', raftKeys)).to.equal(undefined);
    expect(nearestKey('x', raftKeys)).to.equal(undefined);
    expect(nearestKey('a'.repeat(1000), raftKeys)).to.equal(undefined);
  });
});
