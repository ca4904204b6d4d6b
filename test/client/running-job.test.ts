/**
 * RunningJob: the abort signal a handler sees is made only when the handler reads it, and says the
 * same either way — aborted with the runner's reason, whether the abort came before or after the read.
 */
import { expect } from 'chai';
import type { PulledJob } from '../../src/client/job-handler.js';
import { RunningJob } from '../../src/client/running-job.js';

const job: PulledJob = {
  id: 7, token: 42, queue: 'q', payload: new Uint8Array(0), contentType: 'application/octet-stream', priority: 0, attempt: 1,
  attemptsMax: 3, deadlineMs: 0, enqueuedAtMs: 0,
};

describe('RunningJob', () => {
  it('keys a job by id and lease token, so a job leased again is another entry', () => {
    expect(new RunningJob(job, 0).key).to.equal('7:42');
    expect(new RunningJob({ ...job, token: 43 }, 0).key).to.equal('7:43');
  });

  it('aborts a signal read before the abort, with the abort reason, once', () => {
    const entry = new RunningJob(job, 0);
    const { signal } = entry.context;
    expect(signal.aborted).to.equal(false);
    const reasons: unknown[] = [];
    signal.addEventListener('abort', () => reasons.push(signal.reason));
    const lost = new Error('lease lost');
    entry.abort(lost);
    entry.abort(new Error('closed'));
    expect(signal.aborted).to.equal(true);
    expect(reasons).to.deep.equal([lost]);
    expect(entry.context.signal).to.equal(signal);
  });

  it('gives a handler that reads the signal only after the abort an aborted signal with the first reason', () => {
    const entry = new RunningJob(job, 0);
    const closed = new Error('the worker closed before the job finished');
    entry.abort(closed);
    entry.abort(new Error('later'));
    const { signal } = entry.context;
    expect(signal.aborted).to.equal(true);
    expect(signal.reason).to.equal(closed);
  });
});
