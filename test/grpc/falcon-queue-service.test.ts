/**
 * FalconQueueService from a client built from falcon_queue.proto alone (proto-client.ts: the gRPC
 * libraries, no FalconQueue module), against one real 3-node cluster with a gRPC port on every
 * node and three bearer tokens, shared by the cases of this file: each method, a job's whole life,
 * leader redirection from a follower, each role allowed and refused, and the status codes of bad
 * arguments, lost leases, unknown jobs and bad bytes. The cases call with the admin token unless
 * they say otherwise.
 */
import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { removeTestCluster } from '../support/test-cluster.js';
import { createGrpcTestCluster, type GrpcTestCluster } from './grpc-cluster.js';
import { callFollowingLeader, FalconQueueClient, type CallResult, type MethodName } from './proto-client.js';

type Message = Record<string, unknown>;

const tokens = { admin: 'grpc-test-admin-0123456789', produce: 'grpc-test-produce-0123456789', consume: 'grpc-test-consume-0123456789' } as const;
const authYaml = ['auth:', '  tokens:', ...Object.entries(tokens).map(([role, token]) => `    - { token: ${token}, role: ${role}, name: ${role} }`)].join('\n');

function response(result: CallResult): Message {
  if (!result.ok) expect.fail(`expected a response, got status ${result.code}: ${result.details}`);
  return result.response;
}

function failure(result: CallResult): Extract<CallResult, { ok: false }> {
  if (result.ok) expect.fail(`expected an error status, got ${JSON.stringify(result.response)}`);
  return result;
}

describe('FalconQueueService over gRPC (a client from the .proto alone, one real 3-node cluster)', function () {
  this.timeout(60_000);
  let cluster: GrpcTestCluster;
  let nodes: ClusterNodes;
  let leaderId: string;
  const clients = new Map<string, FalconQueueClient>();

  const clientOf = (id: string): FalconQueueClient => {
    const client = clients.get(id) ?? new FalconQueueClient(cluster.grpcAddresses.get(id) ?? '', tokens.admin);
    clients.set(id, client);
    return client;
  };
  const leader = (): FalconQueueClient => clientOf(leaderId);
  /** A call to the leader; should leadership move while the file runs, the call follows it. */
  const onLeader = async (method: MethodName, request: Message): Promise<CallResult> => {
    const { result, address } = await callFollowingLeader(leader(), method, request, tokens.admin);
    leaderId = [...cluster.grpcAddresses].find(([, candidate]) => candidate === address)?.[0] ?? leaderId;
    return result;
  };

  before(async () => {
    // A job whose lease expired is ready again after 50 ms rather than the default 1 s retry delay.
    cluster = await createGrpcTestCluster(3, `${authYaml}\nqueue:\n  retryDelayMsDefault: 50\n`);
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    leaderId = (await nodes.leaderAgreedBy(['n1', 'n2', 'n3'], 30_000)).node;
  });

  after(async () => {
    for (const client of clients.values()) client.close();
    if (cluster !== undefined) await removeTestCluster(cluster);
  });

  it('SubmitJob, PollJobs, AcknowledgeJob, GetJob: the job ends completed, with its result and history', async () => {
    const submitted = response(await onLeader('SubmitJob', {
      queue: 'grpc-life', payload: Buffer.from('{"to":"a@b.c"}'), content_type: 'application/json', priority: 7, idempotency_key: 'life-1',
    }));
    expect(submitted).to.include({ state: 'JOB_STATE_READY', duplicate: false });
    const jobId = submitted['job_id'] as number;
    expect(jobId).to.be.greaterThan(0);
    const again = response(await onLeader('SubmitJob', { queue: 'grpc-life', payload: Buffer.from('x'), idempotency_key: 'life-1' }));
    expect(again).to.include({ job_id: jobId, duplicate: true });

    const polled = response(await onLeader('PollJobs', { queue: 'grpc-life', jobs_max: 10, wait_ms: 2_000, worker_id: 'w-life' }));
    const jobs = polled['jobs'] as Message[];
    expect(jobs).to.have.length(1);
    const [leased] = jobs as [Message];
    expect(leased).to.include({ job_id: jobId, queue: 'grpc-life', content_type: 'application/json', priority: 7, attempt: 1 });
    expect(Buffer.from(leased['payload'] as Uint8Array).toString()).to.equal('{"to":"a@b.c"}');
    expect(leased['deadline_ms']).to.be.greaterThan(leased['enqueued_at_ms'] as number);

    const acked = response(await onLeader('AcknowledgeJob', { job_id: jobId, token: leased['token'], success: { result: Buffer.from('sent') } }));
    expect(acked).to.include({ repeated: false, state: 'JOB_STATE_COMPLETED' });
    const repeated = response(await onLeader('AcknowledgeJob', { job_id: jobId, token: leased['token'], success: {} }));
    expect(repeated).to.include({ repeated: true });

    const job = response(await onLeader('GetJob', { job_id: jobId }))['job'] as Message;
    expect(job).to.include({ job_id: jobId, queue: 'grpc-life', state: 'JOB_STATE_COMPLETED', attempts: 1, idempotency_key: 'life-1' });
    expect(Buffer.from(job['result'] as Uint8Array).toString()).to.equal('sent');
    expect((job['history'] as Message[]).map((step) => step['state'])).to.deep.equal(['JOB_STATE_READY', 'JOB_STATE_LEASED', 'JOB_STATE_COMPLETED']);
  });

  it('SubmitJobs adds a batch in order, all or none: a bad job refuses the call naming it, and nothing is added', async () => {
    const jobs = Array.from({ length: 100 }, (_, n) => ({ payload: Buffer.from([n]), priority: n % 3, idempotency_key: n === 0 ? 'batch-0' : '' }));
    const submitted = response(await onLeader('SubmitJobs', { queue: 'grpc-batch', jobs }))['jobs'] as Message[];
    expect(submitted).to.have.length(100);
    const ids = submitted.map((job) => job['job_id'] as number);
    expect(ids, 'ids ascend in request order').to.deep.equal([...ids].sort((a, b) => a - b));
    expect(submitted.every((job) => job['state'] === 'JOB_STATE_READY' && job['duplicate'] === false)).to.equal(true);
    const last = response(await onLeader('GetJob', { job_id: ids[99] }))['job'] as Message;
    expect([...Buffer.from(last['payload'] as Uint8Array)]).to.deep.equal([99]);

    const refused = failure(await onLeader('SubmitJobs', { queue: 'grpc-batch-bad', jobs: [
      { payload: Buffer.from('a'), idempotency_key: 'bad-batch-0' }, { payload: Buffer.from('b'), attempts_max: 5000 },
    ] }));
    expect([refused.code, refused.metadata['falcon-error-code']]).to.deep.equal([status.INVALID_ARGUMENT, 'INVALID_ARGUMENT']);
    expect(refused.details).to.contain('jobs[1].attemptsMax');
    const retried = response(await onLeader('SubmitJobs', { queue: 'grpc-batch-bad', jobs: [{ payload: Buffer.from('a'), idempotency_key: 'bad-batch-0' }] }));
    expect((retried['jobs'] as Message[])[0], 'the refused batch added nothing').to.include({ duplicate: false });
    expect(failure(await onLeader('SubmitJobs', { queue: 'grpc-batch-bad', jobs: [] })).code).to.equal(status.INVALID_ARGUMENT);
  });

  it("a follower answers UNAVAILABLE with the leader's gRPC address and id; the client that follows it succeeds", async () => {
    const followerId = ['n1', 'n2', 'n3'].find((id) => id !== leaderId) ?? '';
    const refused = failure(await clientOf(followerId).call('SubmitJob', { queue: 'grpc-follow', payload: Buffer.from('f') }));
    expect(refused.code).to.equal(status.UNAVAILABLE);
    expect(refused.metadata).to.include({ 'falcon-error-code': 'NOT_LEADER', 'falcon-leader': cluster.grpcAddresses.get(leaderId), 'falcon-leader-id': leaderId });

    const followed = await callFollowingLeader(clientOf(followerId), 'SubmitJob', { queue: 'grpc-follow', payload: Buffer.from('f'), idempotency_key: 'follow-1' }, tokens.admin);
    expect(followed.address).to.equal(cluster.grpcAddresses.get(leaderId));
    const jobId = response(followed.result)['job_id'];
    const read = await callFollowingLeader(clientOf(followerId), 'GetJob', { job_id: jobId }, tokens.admin);
    expect((response(read.result)['job'] as Message)['state']).to.equal('JOB_STATE_READY');
  });

  it('Heartbeat: an unknown worker is NOT_FOUND; with its queues and capacity it registers, then beats', async () => {
    const unknown = failure(await onLeader('Heartbeat', { worker_id: 'w-beat', load: 0 }));
    expect(unknown.code).to.equal(status.NOT_FOUND);
    const registered = response(await onLeader('Heartbeat', { worker_id: 'w-beat', queues: ['grpc-beat'], capacity: 4 }));
    expect(registered['registered']).to.equal(true);
    expect(registered['ttl_ms']).to.be.greaterThan(0);
    const beat = response(await onLeader('Heartbeat', { worker_id: 'w-beat', load: 2, queues: ['grpc-beat'], capacity: 4 }));
    expect(beat).to.include({ registered: false, ttl_ms: registered['ttl_ms'] });
  });

  it('AcknowledgeJob with a failure that is not retryable dead-letters the job, keeping the error', async () => {
    const jobId = response(await onLeader('SubmitJob', { queue: 'grpc-fail', payload: Buffer.from('p'), attempts_max: 3 }))['job_id'];
    const [leased] = response(await onLeader('PollJobs', { queue: 'grpc-fail', jobs_max: 1, wait_ms: 2_000 }))['jobs'] as [Message];
    const nacked = response(await onLeader('AcknowledgeJob', { job_id: jobId, token: leased['token'], failure: { error: 'smtp refused', retryable: false } }));
    expect(nacked).to.include({ state: 'JOB_STATE_DEAD', retry_at_ms: 0 });
    const job = response(await onLeader('GetJob', { job_id: jobId }))['job'] as Message;
    expect(job).to.include({ state: 'JOB_STATE_DEAD', last_error: 'smtp refused' });
  });

  it('an acknowledgement with a lease that was lost is FAILED_PRECONDITION; the current lease acknowledges', async () => {
    const jobId = response(await onLeader('SubmitJob', { queue: 'grpc-lease', payload: Buffer.from('p') }))['job_id'];
    const [first] = response(await onLeader('PollJobs', { queue: 'grpc-lease', jobs_max: 1, wait_ms: 2_000, lease_ms: 50 }))['jobs'] as [Message];
    // The 50 ms lease ends and the job is ready again: this long poll leases it anew.
    const [second] = response(await onLeader('PollJobs', { queue: 'grpc-lease', jobs_max: 1, wait_ms: 10_000 }))['jobs'] as [Message];
    expect(second).to.include({ job_id: jobId, attempt: 2 });
    const stale = failure(await onLeader('AcknowledgeJob', { job_id: jobId, token: first['token'], success: {} }));
    expect(stale.code).to.equal(status.FAILED_PRECONDITION);
    expect(stale.metadata['falcon-error-code']).to.equal('LEASE_LOST');
    expect(response(await onLeader('AcknowledgeJob', { job_id: jobId, token: second['token'], success: {} }))).to.include({ state: 'JOB_STATE_COMPLETED' });
  });

  it('bad arguments are INVALID_ARGUMENT, with the protocol code in the metadata', async () => {
    const cases: Array<[string, Promise<CallResult>, string]> = [
      ['no queue', onLeader('SubmitJob', { payload: Buffer.from('p') }), 'INVALID_ARGUMENT'],
      ['attempts_max beyond 1000', onLeader('SubmitJob', { queue: 'grpc-bad', payload: Buffer.from('p'), attempts_max: 5000 }), 'INVALID_ARGUMENT'],
      ['a backoff without its kind', onLeader('SubmitJob', { queue: 'grpc-bad', payload: Buffer.from('p'), backoff: { delay_ms: 10 } }), 'INVALID_ARGUMENT'],
      ['a payload over payloadBytesMax', onLeader('SubmitJob', { queue: 'grpc-bad', payload: Buffer.alloc(1024 * 1024 + 1) }), 'PAYLOAD_TOO_LARGE'],
      ['jobs_max 0', onLeader('PollJobs', { queue: 'grpc-bad', jobs_max: 0 }), 'INVALID_ARGUMENT'],
      ['wait_ms beyond a minute', onLeader('PollJobs', { queue: 'grpc-bad', jobs_max: 1, wait_ms: 60_001 }), 'INVALID_ARGUMENT'],
      ['no outcome', onLeader('AcknowledgeJob', { job_id: 1, token: 1 }), 'INVALID_ARGUMENT'],
      ['no job id', onLeader('GetJob', {}), 'INVALID_ARGUMENT'],
      ['a job id above 2^53 - 1', onLeader('GetJob', { job_id: '9007199254740993' }), 'INVALID_ARGUMENT'],
      ['a worker id with a control character', onLeader('Heartbeat', { worker_id: 'w\u0001' }), 'INVALID_ARGUMENT'],
    ];
    for (const [what, call, protocolCode] of cases) {
      const refused = failure(await call);
      expect(refused.code, `${what}: ${refused.details}`).to.equal(status.INVALID_ARGUMENT);
      expect(refused.metadata['falcon-error-code'], what).to.equal(protocolCode);
    }
  });

  it('an unknown job is NOT_FOUND', async () => {
    const missing = failure(await onLeader('GetJob', { job_id: 987_654_321 }));
    expect(missing.code).to.equal(status.NOT_FOUND);
    expect(missing.metadata['falcon-error-code']).to.equal('NOT_FOUND');
  });

  it('bytes that are no request message are refused, and the node keeps serving', async () => {
    const garbage = failure(await leader().callWithRawBytes('SubmitJob', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x80])));
    expect(garbage.code, garbage.details).to.equal(status.INTERNAL);
    expect(response(await onLeader('SubmitJob', { queue: 'grpc-garbage', payload: Buffer.from('g') }))).to.include({ state: 'JOB_STATE_READY' });
  });

  it('each role may make its calls and is refused the others; no token, an unlisted one or a malformed one is UNAUTHENTICATED', async () => {
    const address = cluster.grpcAddresses.get(leaderId) ?? '';
    const as = (token?: string): FalconQueueClient => {
      const client = new FalconQueueClient(address, token);
      clients.set(`${token ?? 'none'}@${address}`, client);
      return client;
    };
    const producer = as(tokens.produce);
    const consumer = as(tokens.consume);
    const jobId = response(await producer.call('SubmitJob', { queue: 'grpc-roles', payload: Buffer.from('r') }))['job_id'];
    expect((response(await producer.call('GetJob', { job_id: jobId }))['job'] as Message)['state']).to.equal('JOB_STATE_READY');
    expect((response(await producer.call('SubmitJobs', { queue: 'grpc-roles', jobs: [{ payload: Buffer.from('s') }] }))['jobs'] as Message[])).to.have.length(1);
    const producerPolls = failure(await producer.call('PollJobs', { queue: 'grpc-roles', jobs_max: 1 }));
    expect([producerPolls.code, producerPolls.metadata['falcon-error-code']]).to.deep.equal([status.PERMISSION_DENIED, 'PERMISSION_DENIED']);

    const consumerSubmits = failure(await consumer.call('SubmitJob', { queue: 'grpc-roles', payload: Buffer.from('r') }));
    expect(consumerSubmits.code).to.equal(status.PERMISSION_DENIED);
    expect(failure(await consumer.call('SubmitJobs', { queue: 'grpc-roles', jobs: [{ payload: Buffer.from('r') }] })).code).to.equal(status.PERMISSION_DENIED);
    const [leased] = response(await consumer.call('PollJobs', { queue: 'grpc-roles', jobs_max: 1, wait_ms: 2_000 }))['jobs'] as [Message];
    expect(leased['job_id']).to.equal(jobId);
    expect(response(await consumer.call('AcknowledgeJob', { job_id: jobId, token: leased['token'], success: {} }))).to.include({ state: 'JOB_STATE_COMPLETED' });
    expect(response(await consumer.call('Heartbeat', { worker_id: 'w-roles', queues: ['grpc-roles'], capacity: 1 }))).to.include({ registered: true });

    for (const [what, client, metadata] of [
      ['no token', as(undefined), {}],
      ['an unlisted token', as('grpc-test-unlisted-0123456789'), {}],
      ['a Basic authorization', as(undefined), { authorization: 'Basic dXNlcjpwdw==' }],
    ] as const) {
      const refused = failure(await client.call('GetJob', { job_id: jobId }, 10_000, metadata));
      expect(refused.code, `${what}: ${refused.details}`).to.equal(status.UNAUTHENTICATED);
    }
  });
});
