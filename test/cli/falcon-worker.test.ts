/**
 * `falcon-worker` as an operator runs it, as a separate process with a handler file written to a
 * temp dir, against one real 3-node cluster shared by the file's cases: it processes jobs with
 * the handler in-process and, with `--threads`, in worker threads (the handler reports its
 * thread; the two workers run at once, on queues of their own); SIGTERM while jobs run drains
 * them (every job completed, none leased) and exits 0; a handler module whose default export is
 * not a function exits 2 before connecting.
 *
 * Waits poll a condition with a bound (a separate process offers no other signal).
 *
 * Runs on: the mocha process (the nodes and each worker in their own processes).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FalconClient } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { createTestCluster, removeTestCluster, startProcess, waitForExit, type StartedProcess, type TestCluster } from '../support/test-cluster.js';
import { falconWorkerEntry, runCli } from './cli-process.js';

/** Sleeps `payload.ms`, then answers its job id and the thread it ran on (0: the main thread). */
const handlerSource = `import { threadId } from 'node:worker_threads';
export default async (job, { signal }) => {
  await new Promise((resolve) => setTimeout(resolve, job.payload.ms));
  return { id: job.id, threadId, aborted: signal.aborted };
};
`;


describe('falcon-worker against three real nodes', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let client: FalconClient;
  let dir: string;
  let handlerPath: string;

  const startWorker = (queue: string, extra: readonly string[]): StartedProcess => startProcess([falconWorkerEntry, '--config', cluster.configPath,
    '--queue', queue, '--handler', handlerPath, '--log-format', 'json', ...extra], { FALCON_TOKEN: '' });
  const enqueueJobs = async (queue: string, count: number, ms: number): Promise<number[]> => {
    const jobs = await client.enqueueMany(queue, Array.from({ length: count }, () => ({ payload: { ms }, contentType: 'application/json' as const })));
    return jobs.map((job) => job.id);
  };
  /** The in-process and the --threads worker, started together in `before`; each case checks its own. */
  const workerRuns = new Map<boolean, { queue: string; ids: number[]; worker: StartedProcess }>();
  const resultsOf = async (ids: readonly number[]): Promise<Array<{ id: number; threadId: number }>> =>
    Promise.all(ids.map(async (id) => (await client.get(id)).result as { id: number; threadId: number }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'falcon-worker-'));
    handlerPath = join(dir, 'sleepy.mjs');
    await writeFile(handlerPath, handlerSource);
    cluster = await createTestCluster({ logLevel: 'warn' });
    const nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
    client = new FalconClient({ nodes: cluster.nodes.map((node) => `127.0.0.1:${node.clientPort}`), deadlineMs: 20_000 });
    for (const threads of [false, true]) {
      const queue = threads ? 'worker-threads' : 'worker-inline';
      const ids = await enqueueJobs(queue, 6, 20);
      workerRuns.set(threads, { queue, ids, worker: startWorker(queue, ['--concurrency', '3', ...(threads ? ['--threads'] : [])]) });
    }
  });

  after(async () => {
    await client?.close();
    if (cluster !== undefined) await removeTestCluster(cluster);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  for (const threads of [false, true]) {
    it(`processes jobs with the handler ${threads ? 'in worker threads (--threads)' : 'in-process'} and exits 0 on SIGTERM`, async () => {
      const run = workerRuns.get(threads);
      if (run === undefined) throw new Error('the worker was not started');
      const { queue, ids, worker } = run;
      await waitUntil(async () => (await client.stats(queue))?.completed === ids.length, `the ${ids.length} jobs completed; worker output:\n${worker.output()}`);
      worker.child.kill('SIGTERM');
      expect(await waitForExit(worker, 20_000), worker.output()).to.equal(0);
      const results = await resultsOf(ids);
      expect(results.map((result) => result.id)).to.deep.equal(ids);
      expect(results.every((result) => (threads ? result.threadId !== 0 : result.threadId === 0)), JSON.stringify(results)).to.equal(true);
      expect(worker.output()).to.contain('"msg":"registered; taking jobs"');
    });
  }

  it('drains on SIGTERM while jobs run: every running job completes, none stays leased, exit 0', async () => {
    const queue = 'worker-drain';
    const ids = await enqueueJobs(queue, 4, 1_500);
    const worker = startWorker(queue, ['--concurrency', '4', '--drain-timeout-ms', '20000']);
    await waitUntil(async () => (await client.stats(queue))?.leased === ids.length, `the worker leased all ${ids.length} jobs; output:\n${worker.output()}`);
    worker.child.kill('SIGTERM');
    expect(await waitForExit(worker, 30_000), worker.output()).to.equal(0);
    expect(await client.stats(queue)).to.include({ completed: ids.length, leased: 0, ready: 0 });
    expect((await resultsOf(ids)).map((result) => result.id)).to.deep.equal(ids);
    expect(worker.output()).to.contain('"abandoned":0');
  });

  it('exits 2 with a clear message when the handler module does not export a function', async () => {
    const badPath = join(dir, 'not-a-function.mjs');
    await writeFile(badPath, 'export default 42;\n');
    const run = await runCli(falconWorkerEntry, ['--config', cluster.configPath, '--queue', 'worker-bad', '--handler', badPath]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.equal(`falcon-worker: handler module ${badPath} must export a function as its default export (async (job, { signal }) => result), its default export is a number\n`);
    expect(await client.stats('worker-bad')).to.equal(undefined);
  });
});
