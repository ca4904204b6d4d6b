/**
 * The error of an enqueueMany sent in several parts (falcon-client.ts `partsError`): `sent` is
 * true as soon as any part was or may have been added, and the message and `detail` name the
 * parts by job index range, so that a caller knows which jobs to send again.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { ClientClosedError, DeadlineExceededError, InvalidArgumentError, ProtocolError } from '../../src/client/errors.js';
import { partsError } from '../../src/client/falcon-client.js';
import type { EnqueuedJob } from '../../src/client/enqueue-batcher.js';
import { wireJobOf, type WireJob } from '../../src/client/job-options.js';

function partsOfLengths(...lengths: number[]): WireJob[][] {
  return lengths.map((length) => Array.from({ length }, (_, n) => wireJobOf(n, {}, 1024, '')));
}

const added = (count: number): PromiseSettledResult<EnqueuedJob[]> => ({
  status: 'fulfilled', value: Array.from({ length: count }, (_, n) => ({ id: n + 1, state: 'ready', duplicate: false })),
});
const failed = (reason: unknown): PromiseSettledResult<EnqueuedJob[]> => ({ status: 'rejected', reason });

describe('enqueueMany in several parts: the error says which parts were added', () => {
  it('an added part and a part never sent: sent true, the first failure\'s code, the ranges in detail and message', () => {
    const notSent = new ClientClosedError('closed before it could be sent', { sent: false });
    const error = partsError(partsOfLengths(4096, 904), [added(4096), failed(notSent)], notSent);
    expect(error).to.be.instanceOf(ClientClosedError);
    expect({ sent: error.sent, detail: error.detail, cause: error.cause }).to.deep.equal({
      sent: true, detail: { jobsAdded: '0-4095', jobsNotAdded: '4096-4999' }, cause: notSent,
    });
    expect(error.message).to.equal('closed before it could be sent (sent in 2 parts: jobs 0-4095 added; jobs 4096-4999 not added)');
  });

  it('a part in doubt makes the call sent: true even when nothing is known added; a bad field\'s detail is kept', () => {
    const refused = new InvalidArgumentError('jobs[100].priority out of bounds', { detail: { field: 'jobs[100].priority' }, sent: false });
    const inDoubt = new DeadlineExceededError('out of time; its outcome is unknown', { sent: true });
    const error = partsError(partsOfLengths(4096, 4096, 10), [failed(refused), failed(inDoubt), added(10)], refused);
    expect(error.code).to.equal('INVALID_ARGUMENT');
    expect(error.sent).to.equal(true);
    expect(error.detail).to.deep.equal({ field: 'jobs[100].priority', jobsAdded: '8192-8201', jobsMaybeAdded: '4096-8191', jobsNotAdded: '0-4095' });
  });

  it('no part can have taken effect: the first failure as it is (sent: false)', () => {
    const first = new ClientClosedError('closed', { sent: false });
    const second = new DeadlineExceededError('never left', { sent: false });
    expect(partsError(partsOfLengths(4096, 1), [failed(first), failed(second)], first)).to.equal(first);
  });

  it('a failure that is not a ProtocolError still gives a ProtocolError, in doubt', () => {
    const error = partsError(partsOfLengths(2, 2), [added(2), failed(new Error('boom'))], new Error('boom'));
    expect(error).to.be.instanceOf(ProtocolError);
    expect([error.code, error.sent, error.detail?.['jobsMaybeAdded']]).to.deep.equal(['INTERNAL', true, '2-3']);
  });
});
