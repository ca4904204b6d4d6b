/**
 * What keeps a producer's retries from making duplicates and a queue from growing without bound:
 * idempotency keys (within the window, within one batch, across a snapshot and restore, bounded
 * with the oldest evicted), producer sessions (a retried sequence answers the same ids), and the
 * limits, each refusing the whole enqueue with RESOURCE_EXHAUSTED naming the limit.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { EnqueueResult } from '../../src/queue/results.js';
import { expectError, expectOk, payloadOf, QueueDriver, testLimits } from './queue-driver.js';

describe('queue state machine: idempotency and limits', () => {
  it('answers a key seen within the window with the first job and its current state', () => {
    const driver = new QueueDriver();
    const first = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'order-1' }]);
    const [lease] = driver.lease('q');
    const again = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'order-1' }, { payload: payloadOf('b'), key: 'order-2' }]);
    expect(again.jobs[0]).to.deep.equal({ id: first.jobs[0]?.id, state: 'leased', duplicate: true });
    expect(again.jobs[1]).to.include({ duplicate: false, state: 'ready' });
    expect(driver.enqueue('other', [{ payload: payloadOf('a'), key: 'order-1' }]).jobs[0]?.duplicate).to.equal(false);
    expectOk(driver.one({ type: 'ack', jobId: lease?.id ?? 0, token: lease?.token ?? 0 }));
    expect(driver.enqueue('q', [{ payload: payloadOf('a'), key: 'order-1' }]).jobs[0]).to.deep.equal({ id: first.jobs[0]?.id, state: 'completed', duplicate: true });
    expect(driver.machine.counters.dedupHits).to.equal(2);
  });

  it('detects duplicate keys within one batch, and counts them once against the limits', () => {
    const driver = new QueueDriver();
    const limits = { ...testLimits, jobsPerQueueMax: 2 };
    const result = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k' }, { payload: payloadOf('b') }, { payload: payloadOf('a'), key: 'k' }], { limits });
    expect(result.jobs.map((job) => [job.id === result.jobs[0]?.id, job.duplicate])).to.deep.equal([[true, false], [false, false], [true, true]]);
    expect(driver.machine.counters.jobs).to.equal(2);
  });

  it('makes a new job once the window has passed, and still answers a key whose job was forgotten', () => {
    const driver = new QueueDriver();
    const limits = { ...testLimits, dedupWindowMs: 1000, completedPerQueueMax: 0 };
    const first = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k' }], { limits });
    const [lease] = driver.lease('q');
    expectOk(driver.one({ type: 'ack', jobId: lease?.id ?? 0, token: lease?.token ?? 0 }));
    expect(driver.machine.getJob(first.jobs[0]?.id ?? 0)).to.equal(undefined);
    expect(driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k' }], { limits }).jobs[0]).to.deep.equal({ id: first.jobs[0]?.id, state: 'completed', duplicate: true });
    driver.advance(1000);
    expect(driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k' }], { limits }).jobs[0]).to.include({ duplicate: false });
  });

  it('keeps at most idempotencyKeysMax keys, evicting the oldest first and counting it, never refusing', () => {
    const driver = new QueueDriver();
    const limits = { ...testLimits, idempotencyKeysMax: 2 };
    const first = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k1' }], { limits });
    driver.enqueue('q', [{ payload: payloadOf('b'), key: 'k2' }, { payload: payloadOf('c'), key: 'k3' }], { limits });
    expect(driver.machine.counters).to.include({ idempotencyKeys: 2, idempotencyKeysEvicted: 1 });
    const again = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k1' }], { limits });
    expect(again.jobs[0]?.id).to.not.equal(first.jobs[0]?.id);
  });

  it('keeps key dedup across a snapshot and restore', () => {
    const driver = new QueueDriver();
    const first = driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k' }]);
    driver.machine = driver.restoredCopy();
    expect(driver.enqueue('q', [{ payload: payloadOf('a'), key: 'k' }]).jobs[0]).to.deep.equal({ id: first.jobs[0]?.id, state: 'ready', duplicate: true });
  });

  it('answers a producer\'s retried sequence with the same job ids, refuses one older than its session, and forgets the least recent producer', () => {
    const driver = new QueueDriver();
    const limits = { ...testLimits, producersMax: 2 };
    const jobs = [{ payload: payloadOf('a') }, { payload: payloadOf('b') }];
    const first = driver.enqueue('q', jobs, { limits, producer: { id: 'p1', sequence: 10 } });
    const retry = driver.enqueue('q', jobs, { limits, producer: { id: 'p1', sequence: 10 } });
    expect(retry.jobs).to.deep.equal(first.jobs.map((job) => ({ ...job, duplicate: true })));
    expect(driver.machine.counters.producerDedupHits).to.equal(1);
    for (let sequence = 11; sequence < 20; sequence += 1) driver.enqueue('q', [{ payload: payloadOf('x') }], { limits, producer: { id: 'p1', sequence } });
    expectError(driver.one({ type: 'enqueue', queue: 'q', jobs, defaults: driver.defaults(), limits, producer: { id: 'p1', sequence: 10 } }), 'FAILED_PRECONDITION');
    driver.enqueue('q', jobs, { limits, producer: { id: 'p2', sequence: 1 } });
    driver.enqueue('q', jobs, { limits, producer: { id: 'p3', sequence: 1 } });
    expect(driver.machine.counters.producersEvicted).to.equal(1);
    const afterEviction = driver.enqueue('q', jobs, { limits, producer: { id: 'p1', sequence: 19 } });
    expect(afterEviction.jobs[0]?.duplicate).to.equal(false);
  });

  it('refuses a whole enqueue beyond jobsPerQueueMax, bytesPerQueueMax or queuesMax, naming the limit and counting it', () => {
    const driver = new QueueDriver();
    const limits = { ...testLimits, jobsPerQueueMax: 3, bytesPerQueueMax: 10, queuesMax: 1 };
    driver.enqueue('q', [{ payload: payloadOf('12') }, { payload: payloadOf('34') }], { limits });
    const jobs = expectError(driver.one({ type: 'enqueue', queue: 'q', jobs: [1, 2].map(() => ({ payload: payloadOf('x') })), defaults: driver.defaults(), limits }), 'RESOURCE_EXHAUSTED');
    expect(jobs.message).to.contain('jobsPerQueueMax 3');
    const bytes = expectError(driver.one({ type: 'enqueue', queue: 'q', jobs: [{ payload: payloadOf('1234567') }], defaults: driver.defaults(), limits }), 'RESOURCE_EXHAUSTED');
    expect(bytes.message).to.contain('bytesPerQueueMax 10');
    const queues = expectError(driver.one({ type: 'enqueue', queue: 'q2', jobs: [{ payload: payloadOf('1') }], defaults: driver.defaults(), limits }), 'RESOURCE_EXHAUSTED');
    expect(queues.message).to.contain('queuesMax 1');
    expect(driver.machine.counters.limitRefusals).to.deep.equal({ jobsPerQueueMax: 1, bytesPerQueueMax: 1, queuesMax: 1 });
    expect(driver.machine.queueStats('q', driver.atMs)).to.include({ ready: 2, bytes: 4 });
    const fits = expectOk(driver.one({ type: 'enqueue', queue: 'q', jobs: [{ payload: payloadOf('1') }], defaults: driver.defaults(), limits })) as EnqueueResult;
    expect(fits.jobs).to.have.length(1);
  });
});
