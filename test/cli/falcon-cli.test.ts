/**
 * The `falcon` CLI as a script uses it, run as a separate process against one real 3-node cluster
 * shared by the file's cases: a payload from an argument, a file and stdin becomes a job that
 * `get`, `list` and `stats` show; pause and resume; cancel; dead-lettered jobs listed, redriven
 * and purged; `--json` prints exactly one JSON object (errors too); the exit codes a script
 * branches on (4 unknown job, 3 unreachable cluster, 2 bad usage and an unconfirmed purge);
 * `status` names the leader and `watch --count 2` prints two frames.
 *
 * Waits poll a condition with a bound (a separate process offers no other signal).
 *
 * Runs on: the mocha process (the nodes and each CLI run in their own processes).
 */
import { expect } from 'chai';
import { waitUntil } from '../support/wait-until.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FalconClient, NonRetryableError } from '../../src/client/index.js';
import { ClusterNodes } from '../support/cluster-nodes.js';
import { freePorts } from '../support/free-port.js';
import { createTestCluster, removeTestCluster, type TestCluster } from '../support/test-cluster.js';
import { jsonOf, runFalcon, type CliRun } from './cli-process.js';


function idOf(run: CliRun): number {
  expect(run.code, run.stderr).to.equal(0);
  const id = jsonOf(run)['id'];
  expect(Number.isSafeInteger(id), run.stdout).to.equal(true);
  return id as number;
}

describe('falcon CLI against three real nodes', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let nodes: ClusterNodes;
  let client: FalconClient;
  let dir: string;
  const falcon = (args: readonly string[], options: { stdin?: string } = {}): Promise<CliRun> => runFalcon([...args, '--config', cluster.configPath], options);
  const statsOf = async (queue: string): Promise<Record<string, unknown>> => {
    const run = await falcon(['stats', queue, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    return (jsonOf(run)['queues'] as Array<Record<string, unknown>>)[0] ?? {};
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'falcon-cli-'));
    cluster = await createTestCluster({ logLevel: 'warn' });
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
    await nodes.leaderAgreedBy(cluster.nodes.map((node) => node.id));
    client = new FalconClient({ nodes: cluster.nodes.map((node) => `127.0.0.1:${node.clientPort}`), deadlineMs: 20_000 });
  });

  after(async () => {
    await client?.close();
    if (cluster !== undefined) await removeTestCluster(cluster);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  // Runs that do not depend on each other start together: each CLI run is a process start.
  it('enqueues from an argument, a file and stdin; get, list and stats show the jobs', async () => {
    const file = join(dir, 'payload.json');
    await writeFile(file, '{"from":"file"}');
    const [argumentRun, fileRun, stdinRun] = await Promise.all([
      falcon(['enqueue', 'cli-jobs', '{"from":"argument"}', '--priority', '5', '--json']),
      falcon(['enqueue', 'cli-jobs', '--file', file, '--idempotency-key', 'order-1', '--json']),
      falcon(['enqueue', 'cli-jobs', '--delay', '30s', '--attempts', '3', '--backoff', 'exponential:1000:60000', '--json'], { stdin: '{"from":"stdin"}\n' }),
    ]);
    const fromArgument = idOf(argumentRun);
    expect(jsonOf(fileRun)).to.include({ state: 'ready', duplicate: false });
    const fromFile = idOf(fileRun);
    const fromStdin = idOf(stdinRun);
    const again = jsonOf(await falcon(['enqueue', 'cli-jobs', '{"from":"file again"}', '--idempotency-key', 'order-1', '--json']));
    expect(again).to.deep.equal({ id: fromFile, state: 'ready', duplicate: true });

    const [jobRun, delayedRun, firstPageRun, allRun, table, stats] = await Promise.all([
      falcon(['get', String(fromArgument), '--json']),
      falcon(['get', String(fromStdin), '--json']),
      falcon(['list', 'cli-jobs', '--state', 'ready', '--limit', '1', '--json']),
      falcon(['list', 'cli-jobs', '--state', 'ready', '--limit', '1', '--all', '--json']),
      falcon(['list', 'cli-jobs', '--state', 'delayed']),
      statsOf('cli-jobs'),
    ]);
    const job = jsonOf(jobRun);
    expect(job).to.include({ id: fromArgument, queue: 'cli-jobs', state: 'ready', priority: 5, contentType: 'application/json' });
    expect(job['payload']).to.deep.equal({ from: 'argument' });
    const delayed = jsonOf(delayedRun);
    expect(delayed).to.include({ state: 'delayed', attemptsMax: 3 });
    expect((await client.get(fromStdin)).payload).to.deep.equal({ from: 'stdin' });

    const firstPage = jsonOf(firstPageRun);
    expect(firstPage['jobs']).to.have.length(1);
    expect(firstPage['nextAfterId']).to.be.a('number');
    const all = jsonOf(allRun);
    expect((all['jobs'] as Array<{ id: number }>).map((summary) => summary.id).sort((a, b) => a - b)).to.deep.equal([fromArgument, fromFile].sort((a, b) => a - b));
    expect(table.stdout).to.match(/^\s*ID\s+STATE\s+PRIORITY/);
    expect(table.stdout).to.contain(`${fromStdin}  delayed`);
    expect(stats).to.include({ queue: 'cli-jobs', ready: 2, delayed: 1, paused: false });
  });

  it('pauses and resumes a queue', async () => {
    await falcon(['enqueue', 'cli-pause', '1']);
    expect(jsonOf(await falcon(['pause', 'cli-pause', '--json']))).to.deep.equal({ queue: 'cli-pause', paused: true });
    expect(await statsOf('cli-pause')).to.include({ paused: true });
    expect(jsonOf(await falcon(['resume', 'cli-pause', '--json']))).to.deep.equal({ queue: 'cli-pause', paused: false });
    expect(await statsOf('cli-pause')).to.include({ paused: false });
  });

  it('cancels a job; lists, redrives and purges dead jobs; refuses a purge without --yes or a terminal', async () => {
    const ids = (await Promise.all([1, 2, 3].map((n) => falcon(['enqueue', 'cli-dead', `{"n":${n}}`, '--json'])))).map(idOf).sort((a, b) => a - b);
    expect(jsonOf(await falcon(['cancel', String(ids[0]), '--json']))).to.deep.equal({ id: ids[0], cancelled: true });
    expect(jsonOf(await falcon(['get', String(ids[0]), '--json']))).to.include({ state: 'cancelled' });
    const worker = client.worker('cli-dead', async () => {
      throw new NonRetryableError('refused on purpose');
    }, { waitMs: 200 });
    await waitUntil(async () => (await client.stats('cli-dead'))?.dead === 2, 'both jobs dead-lettered');
    await worker.close();

    const [deadRun, deadJobRun] = await Promise.all([falcon(['dead', 'list', 'cli-dead', '--json']), falcon(['get', String(ids[1]), '--json'])]);
    const dead = jsonOf(deadRun);
    expect((dead['jobs'] as Array<{ id: number }>).map((job) => job.id).sort((a, b) => a - b)).to.deep.equal(ids.slice(1));
    expect(jsonOf(deadJobRun)['lastError']).to.contain('refused on purpose');
    expect(jsonOf(await falcon(['dead', 'redrive', 'cli-dead', '--max', '1', '--json']))).to.deep.equal({ queue: 'cli-dead', redriven: 1 });
    expect(await statsOf('cli-dead')).to.include({ ready: 1, dead: 1 });

    const refused = await falcon(['purge', 'cli-dead']);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/^falcon: purge deletes every ready and delayed job of queue 'cli-dead' and cannot be undone: give --yes/);
    expect(await statsOf('cli-dead')).to.include({ ready: 1, dead: 1 });
    expect(jsonOf(await falcon(['purge', 'cli-dead', '--yes', '--json']))).to.deep.equal({ queue: 'cli-dead', set: 'ready', purged: 1 });
    expect(jsonOf(await falcon(['purge', 'cli-dead', '--dead', '--yes', '--json']))).to.deep.equal({ queue: 'cli-dead', set: 'dead', purged: 1 });
    expect(await statsOf('cli-dead')).to.include({ ready: 0, dead: 0 });
  });

  it('exits 4 for an unknown job and 3 for a cluster nobody listens on, with one-line messages', async () => {
    const [port] = await freePorts(1);
    const [unknown, unknownJson, unknownQueue, unreachable] = await Promise.all([
      falcon(['get', '999999999']),
      falcon(['get', '999999999', '--json']),
      falcon(['stats', 'no-such-queue']),
      runFalcon(['get', '1', '--nodes', `127.0.0.1:${port}`, '--timeout', '1500', '--json']),
    ]);
    expect(unknown.code).to.equal(4);
    expect(unknown.stderr).to.match(/^falcon: job 999999999 does not exist.*\n$/);
    expect(jsonOf(unknownJson)['error']).to.include({ code: 'NOT_FOUND', exitCode: 4 });
    expect(unknownQueue).to.include({ code: 4 });

    expect(unreachable.code).to.equal(3);
    expect(jsonOf(unreachable)['error']).to.include({ code: 'DEADLINE_EXCEEDED', exitCode: 3 });
    expect(unreachable.stderr).to.match(/^falcon: cluster unreachable or without a leader: .*ECONNREFUSED.*\n$/);
  });

  it('exits 2 for bad usage: a payload that is not JSON, an unknown option, a malformed --delay', async () => {
    const [notJson, unknownOption, badDelay] = await Promise.all([
      falcon(['enqueue', 'cli-usage', 'hello']),
      falcon(['enqueue', 'cli-usage', '1', '--bogus', '--json']),
      falcon(['enqueue', 'cli-usage', '1', '--delay', 'soon']),
    ]);
    expect(notJson.code).to.equal(2);
    expect(notJson.stderr).to.match(/^falcon: the payload from the argument is not JSON .* --raw/);
    expect(unknownOption.code).to.equal(2);
    expect(jsonOf(unknownOption)['error']).to.include({ code: 'USAGE', exitCode: 2 });
    expect(badDelay.code).to.equal(2);
    expect(badDelay.stderr).to.contain('--delay must be a duration');
    expect(await client.stats('cli-usage')).to.equal(undefined);
  });

  it('status names the leader and every node; watch --count 2 prints two frames', async () => {
    const ids = cluster.nodes.map((node) => node.id);
    const leader = await nodes.leaderAgreedBy(ids);
    const [status, text, watch, watchJson] = await Promise.all([
      falcon(['status', '--json']),
      falcon(['status']),
      falcon(['watch', '--count', '2', '--interval', '0.2']),
      falcon(['watch', '--count', '2', '--interval', '0.2', '--json']),
    ]);
    expect(status.code, status.stderr).to.equal(0);
    const picture = jsonOf(status) as { leader: string; nodes: Array<Record<string, unknown>>; queues: Array<{ queue: string }> };
    expect(picture.leader).to.equal(leader.node);
    expect(picture.nodes.map((node) => [node['node'], node['reachable'], node['healthy'], node['ready']])).to.deep.equal(ids.map((id) => [id, true, true, true]));
    expect(picture.nodes.find((node) => node['node'] === leader.node)).to.include({ role: 'leader', lag: 0 });
    expect(picture.queues.map((queue) => queue.queue)).to.include('cli-jobs');
    expect(text.stdout).to.contain(`cluster: leader ${leader.node} (term ${leader.term})`);
    expect(text.stdout).to.match(new RegExp(`^${leader.node}\\s+leader\\s+${leader.term}\\s`, 'm'));

    expect(watch.code, watch.stderr).to.equal(0);
    expect(watch.stdout.match(/^falcon watch /gm)).to.have.length(2);
    expect(watch.stdout.match(/^cluster: leader /gm)).to.have.length(2);
    const frames = watchJson.stdout.trim().split('\n').map((line) => JSON.parse(line) as { leader: string });
    expect(frames.map((frame) => frame.leader)).to.deep.equal([leader.node, leader.node]);
  });
});
