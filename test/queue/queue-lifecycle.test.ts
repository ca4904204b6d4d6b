/**
 * The job lifecycle a user relies on: jobs are leased by priority then age, a lease is fenced by
 * its token (a stale worker cannot ack, nack or extend), an ack repeated after a failover answers
 * OK, failures retry after the backoff the leader's jitter fixes and dead-letter after exactly
 * `attemptsMax` attempts, redrive brings them back, and leases survive a leader change for the
 * grace. Time comes only from the entries and never goes back.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { jobsPerEntryMax } from '../../src/queue/commands.js';
import type { AckResult, CountResult, EnqueueResult, ExtendResult, NackResult } from '../../src/queue/results.js';
import { enqueueCommand, expectError, expectOk, payloadOf, QueueDriver, startMs, testLimits } from './queue-driver.js';

describe('queue state machine: job lifecycle', () => {
  it('gives jobs ids from their entry and position, leases them by priority then age, and completes them on ack', () => {
    const driver = new QueueDriver();
    const enqueued = driver.enqueue('mail', [{ payload: payloadOf('a') }, { payload: payloadOf('b'), priority: 5 }, { payload: payloadOf('c') }]);
    expect(enqueued.jobs.map((job) => job.id)).to.deep.equal([jobsPerEntryMax, jobsPerEntryMax + 1, jobsPerEntryMax + 2]);
    expect(enqueued.jobs.map((job) => job.state)).to.deep.equal(['ready', 'ready', 'ready']);
    const leased = driver.lease('mail', 3);
    expect(leased.map((job) => new TextDecoder().decode(job.payload))).to.deep.equal(['b', 'a', 'c']);
    expect(leased[0]).to.include({ attempt: 1, attemptsMax: 3, token: 2, deadlineMs: startMs + 10_000, enqueuedAtMs: startMs });
    const ack = expectOk(driver.one({ type: 'ack', jobId: jobsPerEntryMax + 1, token: 2, result: payloadOf('done') })) as AckResult;
    expect(ack).to.deep.equal({ type: 'acked', jobId: jobsPerEntryMax + 1, repeated: false });
    const view = driver.machine.getJob(jobsPerEntryMax + 1);
    expect(view?.state).to.equal('completed');
    expect(new TextDecoder().decode(view?.result)).to.equal('done');
    expect(view?.history.map((step) => step.state)).to.deep.equal(['ready', 'leased', 'completed']);
  });

  it('answers an ack repeated with the completing token OK again, and refuses any other token with LEASE_LOST', () => {
    const driver = new QueueDriver();
    const [id] = driver.enqueue('q', [{ payload: payloadOf('x') }]).jobs.map((job) => job.id) as [number];
    const [lease] = driver.lease('q');
    expectOk(driver.one({ type: 'ack', jobId: id, token: lease?.token ?? 0 }));
    expect(driver.one({ type: 'ack', jobId: id, token: lease?.token ?? 0 })).to.deep.equal({ type: 'acked', jobId: id, repeated: true });
    const refused = expectError(driver.one({ type: 'ack', jobId: id, token: 999 }), 'LEASE_LOST');
    expect(refused.message).to.contain(`job ${id}`).and.contain('token 999').and.contain(`token ${lease?.token}`);
    expectError(driver.one({ type: 'ack', jobId: 12345, token: 1 }), 'NOT_FOUND');
  });

  it('refuses a stale worker after its lease expired and the job was leased again: ack, nack and extend are LEASE_LOST', () => {
    const driver = new QueueDriver();
    const [id] = driver.enqueue('q', [{ payload: payloadOf('x'), backoff: { kind: 'fixed', delayMs: 0, delayMsMax: 0, jitterRatio: 0 } }]).jobs.map((job) => job.id) as [number];
    const [first] = driver.lease('q', 1, 'slow');
    driver.advance(10_000);
    expect(driver.one({ type: 'expireLeases', graceMs: 0, jitterSeed: 7 })).to.deep.equal({ type: 'counted', jobs: 1 });
    const [second] = driver.lease('q', 1, 'fast');
    expect(second?.token).to.be.greaterThan(first?.token ?? 0);
    expect(second?.attempt).to.equal(2);
    expectError(driver.one({ type: 'ack', jobId: id, token: first?.token ?? 0 }), 'LEASE_LOST');
    expectError(driver.one({ type: 'nack', jobId: id, token: first?.token ?? 0, error: 'boom', retryable: true, jitter: 0 }), 'LEASE_LOST');
    expectError(driver.one({ type: 'extend', jobId: id, token: first?.token ?? 0, leaseMs: 5000 }), 'LEASE_LOST');
    expect(expectOk(driver.one({ type: 'ack', jobId: id, token: second?.token ?? 0 }))).to.include({ repeated: false });
    expect(driver.machine.getJob(id)?.history.map((step) => step.reason ?? step.state)).to.deep.equal(['ready', 'leased', 'expired', 'leased', 'completed']);
  });

  it('dead-letters after exactly attemptsMax attempts, waiting the backoff the leader\'s jitter fixes between them', () => {
    const driver = new QueueDriver();
    const backoff = { kind: 'exponential' as const, delayMs: 1000, delayMsMax: 60_000, jitterRatio: 0.5 };
    const [id] = driver.enqueue('q', [{ payload: payloadOf('x'), attemptsMax: 3, backoff }]).jobs.map((job) => job.id) as [number];
    const expectedDelaysMs = [1000 * 0.5 + 1000 * 0.5 * 0.25, 2000 * 0.5 + 2000 * 0.5 * 0.25];
    for (const delayMs of expectedDelaysMs) {
      const [lease] = driver.lease('q');
      const nack = expectOk(driver.one({ type: 'nack', jobId: id, token: lease?.token ?? 0, error: 'fail', retryable: true, jitter: 0.25 })) as NackResult;
      expect(nack).to.deep.equal({ type: 'nacked', jobId: id, state: 'delayed', retryAtMs: driver.atMs + delayMs });
      driver.advance(delayMs - 1);
      expect(driver.lease('q')).to.deep.equal([]);
      driver.advance(1);
    }
    const [last] = driver.lease('q');
    expect(last?.attempt).to.equal(3);
    const final = expectOk(driver.one({ type: 'nack', jobId: id, token: last?.token ?? 0, error: 'fail', retryable: true, jitter: 0.25 })) as NackResult;
    expect(final.state).to.equal('dead');
    const view = driver.machine.getJob(id);
    expect(view).to.include({ state: 'dead', attempts: 3, lastError: 'fail' });
    const leaseTimes = view?.history.filter((step) => step.state === 'leased').map((step) => step.atMs);
    expect(leaseTimes).to.deep.equal([startMs, startMs + 625, startMs + 625 + 1250]);
    expect(driver.machine.queueStats('q', driver.atMs)).to.include({ dead: 1, deadLetteredTotal: 1, nackedTotal: 3 });
  });

  it('dead-letters at once on a nack that is not retryable, and redrive brings dead jobs back oldest first with attempts reset', () => {
    const driver = new QueueDriver();
    const ids = driver.enqueue('q', [{ payload: payloadOf('a') }, { payload: payloadOf('b') }, { payload: payloadOf('c') }]).jobs.map((job) => job.id);
    for (const lease of driver.lease('q', 3)) {
      expect(expectOk(driver.one({ type: 'nack', jobId: lease.id, token: lease.token, error: 'bad input', retryable: false, jitter: 0 }))).to.include({ state: 'dead' });
    }
    expect((expectOk(driver.one({ type: 'redrive', queue: 'q', jobsMax: 2 })) as CountResult).jobs).to.equal(2);
    expect(driver.machine.getJob(ids[0] ?? 0)).to.include({ state: 'ready', attempts: 0 });
    expect(driver.machine.getJob(ids[1] ?? 0)).to.include({ state: 'ready', attempts: 0 });
    expect(driver.machine.getJob(ids[2] ?? 0)).to.include({ state: 'dead' });
    expect(driver.lease('q', 5).map((job) => [job.id, job.attempt])).to.deep.equal([[ids[0], 1], [ids[1], 1]]);
    expectError(driver.one({ type: 'redrive', queue: 'nowhere', jobsMax: 1 }), 'NOT_FOUND');
  });

  it('keeps delayed jobs until their time, and announces the next due time', () => {
    const driver = new QueueDriver();
    const [id] = driver.enqueue('q', [{ payload: payloadOf('x'), delayMs: 5000 }]).jobs.map((job) => job.id) as [number];
    expect(driver.machine.getJob(id)?.state).to.equal('delayed');
    expect(driver.machine.nextDueMs()).to.equal(startMs + 5000);
    driver.advance(4999);
    expect(driver.lease('q')).to.deep.equal([]);
    driver.advance(1);
    const [lease] = driver.lease('q');
    expect(lease?.id).to.equal(id);
    expect(driver.machine.nextDueMs()).to.equal(lease?.deadlineMs);
  });

  it('extends a lease, and expires it only once its extended deadline has passed', () => {
    const driver = new QueueDriver();
    driver.enqueue('q', [{ payload: payloadOf('x') }]);
    const [lease] = driver.lease('q', 1, 'w', 1000);
    driver.advance(900);
    const extended = expectOk(driver.one({ type: 'extend', jobId: lease?.id ?? 0, token: lease?.token ?? 0, leaseMs: 1000 })) as ExtendResult;
    expect(extended.deadlineMs).to.equal(driver.atMs + 1000);
    driver.advance(999);
    expect(driver.one({ type: 'expireLeases', graceMs: 0, jitterSeed: 1 })).to.deep.equal({ type: 'counted', jobs: 0 });
    driver.advance(1);
    expect(driver.one({ type: 'expireLeases', graceMs: 0, jitterSeed: 1 })).to.deep.equal({ type: 'counted', jobs: 1 });
  });

  it('after a leader change, expires no lease before the first timestamped entry of the new term plus the grace', () => {
    const driver = new QueueDriver();
    driver.enqueue('q', [{ payload: payloadOf('x') }]);
    driver.lease('q', 1, 'w', 1000);
    driver.advance(60_000);
    driver.noop(2);
    expect(driver.one({ type: 'expireLeases', graceMs: 5000, jitterSeed: 1 })).to.deep.equal({ type: 'counted', jobs: 0 });
    expect(driver.machine.nextDueMs(5000)).to.equal(driver.atMs + 5000);
    driver.advance(4999);
    expect(driver.one({ type: 'expireLeases', graceMs: 5000, jitterSeed: 1 })).to.deep.equal({ type: 'counted', jobs: 0 });
    driver.advance(1);
    expect(driver.one({ type: 'expireLeases', graceMs: 5000, jitterSeed: 1 })).to.deep.equal({ type: 'counted', jobs: 1 });
  });

  it('never lets time go back when a new leader\'s clock lags', () => {
    const driver = new QueueDriver();
    driver.enqueue('q', [{ payload: payloadOf('a') }]);
    driver.noop(2);
    const late = expectOk(driver.one(enqueueCommand('q', [{ payload: payloadOf('b') }]), startMs - 50_000)) as EnqueueResult;
    const id = late.jobs[0]?.id;
    expect(driver.machine.nowMs).to.equal(startMs);
    expect(driver.machine.getJob(id ?? 0)?.enqueuedAtMs).to.equal(startMs);
  });

  it('returns a released worker\'s leases to ready as a failed attempt, and lists workers with their leases', () => {
    const driver = new QueueDriver();
    driver.one({ type: 'registerWorker', workerId: 'w1', queues: ['q'], capacity: 4 });
    driver.enqueue('q', [{ payload: payloadOf('a'), backoff: { kind: 'fixed', delayMs: 0, delayMsMax: 0, jitterRatio: 0 } }, { payload: payloadOf('b') }]);
    driver.lease('q', 1, 'w1');
    expect(driver.machine.workers()).to.deep.equal([{ workerId: 'w1', queues: ['q'], capacity: 4, registeredAtMs: startMs, leases: 1 }]);
    expect(driver.one({ type: 'releaseWorker', workerId: 'w1', reason: 'ttlExpired', jitterSeed: 3 })).to.deep.equal({ type: 'counted', jobs: 1 });
    expect(driver.machine.workers()).to.deep.equal([]);
    expect(driver.machine.queueStats('q', driver.atMs)).to.include({ ready: 2, leased: 0 });
    const [again] = driver.lease('q', 1, 'w2');
    expect(again?.attempt).to.equal(2);
  });

  it('cancels waiting jobs but not leased ones, grants no lease from a paused queue, and purges', () => {
    const driver = new QueueDriver();
    const ids = driver.enqueue('q', [{ payload: payloadOf('a') }, { payload: payloadOf('b') }, { payload: payloadOf('c'), delayMs: 100 }, { payload: payloadOf('d') }]).jobs.map((job) => job.id);
    const [lease] = driver.lease('q');
    expectError(driver.one({ type: 'cancel', jobId: lease?.id ?? 0 }), 'FAILED_PRECONDITION');
    expect(driver.one({ type: 'cancel', jobId: ids[1] ?? 0 })).to.deep.equal({ type: 'done' });
    expect(driver.machine.getJob(ids[1] ?? 0)?.state).to.equal('cancelled');
    expect(driver.one({ type: 'pauseQueue', queue: 'q' })).to.deep.equal({ type: 'done' });
    expect(driver.lease('q')).to.deep.equal([]);
    driver.machine.takeReadyQueues();
    driver.one({ type: 'resumeQueue', queue: 'q' });
    expect(driver.machine.takeReadyQueues()).to.deep.equal(['q']);
    expect(driver.one({ type: 'purge', queue: 'q', set: 'ready' })).to.deep.equal({ type: 'counted', jobs: 2 });
    expect(driver.machine.queueStats('q', driver.atMs)).to.include({ ready: 0, delayed: 0, leased: 1, completed: 1 });
    expect(driver.machine.getJob(ids[2] ?? 0)).to.equal(undefined);
    expectError(driver.one({ type: 'pauseQueue', queue: 'nowhere' }), 'NOT_FOUND');
  });

  it('lists a queue\'s jobs by state in id order, page by page, and reports its stats', () => {
    const driver = new QueueDriver();
    const ids = driver.enqueue('q', Array.from({ length: 5 }, (_, at) => ({ payload: payloadOf(`job ${at}`) }))).jobs.map((job) => job.id);
    driver.lease('q', 1);
    const first = driver.machine.listJobs('q', 'ready', 0, 2);
    expect(first.jobs.map((job) => job.id)).to.deep.equal([ids[1], ids[2]]);
    const second = driver.machine.listJobs('q', 'ready', first.nextAfterId ?? 0, 10);
    expect(second).to.deep.include({ nextAfterId: null });
    expect(second.jobs.map((job) => job.id)).to.deep.equal([ids[3], ids[4]]);
    driver.advance(250);
    expect(driver.machine.queueStats('q', driver.atMs)).to.include({ ready: 4, leased: 1, bytes: 25, oldestReadyAgeMs: 250, enqueuedTotal: 5, leasedTotal: 1 });
    expect(driver.machine.allQueueStats(driver.atMs).map((stats) => stats.queue)).to.deep.equal(['q']);
  });

  it('forgets completed jobs beyond the retained count and after the retention time', () => {
    const driver = new QueueDriver();
    const limits = { ...testLimits, completedPerQueueMax: 2, completedRetentionMs: 10_000 };
    const ids = driver.enqueue('q', [1, 2, 3].map((n) => ({ payload: payloadOf(`${n}`) })), { limits }).jobs.map((job) => job.id);
    for (const lease of driver.lease('q', 3)) expectOk(driver.one({ type: 'ack', jobId: lease.id, token: lease.token }));
    expect(driver.machine.getJob(ids[0] ?? 0)).to.equal(undefined);
    expect(driver.machine.queueStats('q', driver.atMs)?.completed).to.equal(2);
    driver.advance(10_000);
    driver.apply([]);
    expect(driver.machine.counters.jobs).to.equal(0);
  });
  it('never leases a job twice in one entry (the token would repeat), keeps the last 16 transitions, and wakes the queues that gained ready jobs', () => {
    const driver = new QueueDriver();
    expect(driver.machine.nextDueMs()).to.equal(null);
    const [id] = driver.enqueue('q', [{ payload: payloadOf('x'), attemptsMax: 100, backoff: { kind: 'fixed', delayMs: 0, delayMsMax: 0, jitterRatio: 0 } }]).jobs.map((job) => job.id) as [number];
    expect(driver.machine.takeReadyQueues()).to.deep.equal(['q']);
    expect(driver.machine.takeReadyQueues()).to.deep.equal([]);
    const token = driver.nextIndex;
    const results = driver.apply([
      { type: 'lease', queue: 'q', jobsMax: 1, bytesMax: 1_048_576, leaseMs: 1000, workerId: 'w' },
      { type: 'nack', jobId: id, token, error: 'again', retryable: true, jitter: 0 },
      { type: 'lease', queue: 'q', jobsMax: 1, bytesMax: 1_048_576, leaseMs: 1000, workerId: 'w' },
    ]);
    expect(results[1]).to.deep.include({ type: 'nacked', state: 'ready' });
    expect(results[2]).to.deep.equal({ type: 'leased', jobs: [] });
    expect(driver.lease('q')[0]?.token).to.equal(token + 1);
    expectOk(driver.one({ type: 'nack', jobId: id, token: token + 1, error: 'again', retryable: true, jitter: 0 }));
    for (let round = 0; round < 9; round += 1) {
      const [again] = driver.lease('q');
      expectOk(driver.one({ type: 'nack', jobId: id, token: again?.token ?? 0, error: 'again', retryable: true, jitter: 0 }));
    }
    const history = driver.machine.getJob(id)?.history ?? [];
    expect(history).to.have.length(16);
    expect(history.at(-1)).to.deep.equal({ state: 'ready', atMs: startMs, reason: 'nack' });
    expect(driver.machine.getJob(id)?.attempts).to.equal(11);
  });
});
