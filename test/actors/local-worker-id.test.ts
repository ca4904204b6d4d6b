/**
 * The worker ids of a node's local runners: unique per queue even when queue names share a long
 * prefix, per process (a node restarted after kill -9 must not take over its predecessor's id),
 * and within the protocol's 128-byte bound for any queue name.
 */
import { expect } from 'chai';
import { localWorkerId } from '../../src/actors/worker-role.js';

describe('local worker ids', () => {
  it('tell apart two queues that share their first 64 characters', () => {
    const prefix = 'q'.repeat(64);
    expect(localWorkerId('n1', `${prefix}-a`, 1, 'aaaaaaaa')).to.not.equal(localWorkerId('n1', `${prefix}-b`, 1, 'aaaaaaaa'));
  });

  it('differ between processes of one node (the nonce) and between incarnations', () => {
    expect(localWorkerId('n1', 'email', 1, 'aaaaaaaa')).to.not.equal(localWorkerId('n1', 'email', 1, 'bbbbbbbb'));
    expect(localWorkerId('n1', 'email', 1, 'aaaaaaaa')).to.not.equal(localWorkerId('n1', 'email', 2, 'aaaaaaaa'));
    expect(localWorkerId('n1', 'email', 1)).to.match(/^n1:email:[0-9a-f]{8}:[0-9a-f]{8}\.1$/);
  });

  it('stay within 128 UTF-8 bytes for the longest node id and queue name, cutting on a character boundary', () => {
    const id = localWorkerId('n'.repeat(32), '\u{1F600}'.repeat(50), 99_999);
    expect(Buffer.byteLength(id)).to.be.at.most(128);
    expect(id).to.not.include('\uFFFD');
  });
});
