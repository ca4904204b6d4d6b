/**
 * falcon-node as a person runs it: without --node it starts every node of the file, each node's
 * /healthz answers 200, and one SIGTERM stops them all, leaving no process behind. Bad input is
 * refused with exit code 2 and one line that says what is wrong.
 */
import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import {
  createTestCluster, falconNodeEntry, isPidAlive, removeTestCluster, startProcess, waitForExit, waitForHttp, type TestCluster,
} from '../support/test-cluster.js';

describe('falcon-node command line', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await createTestCluster({ nodeCount: 3 });
  });
  afterEach(async () => {
    await removeTestCluster(cluster);
  });

  it('starts every node of the cluster file, all healthy, and stops them all on SIGTERM', async () => {
    const launcher = startProcess([falconNodeEntry, '--config', cluster.configPath, '--log-format', 'json']);
    const pids: number[] = [];
    for (const node of cluster.nodes) {
      await waitForHttp(`http://127.0.0.1:${node.opsPort}/healthz`, (status) => status === 200, 20_000, () => launcher.output());
      const { body } = await waitForHttp(`http://127.0.0.1:${node.opsPort}/status`, (status) => status === 200, 5_000);
      const status = JSON.parse(body) as { node: string; pid: number };
      expect(status.node).to.equal(node.id);
      pids.push(status.pid);
    }
    expect(new Set(pids).size, 'each node runs in its own process').to.equal(3);
    expect(launcher.output()).to.contain(`http://127.0.0.1:${cluster.nodes[0]?.opsPort ?? 0}/status`);
    launcher.child.kill('SIGTERM');
    const code = await waitForExit(launcher, 15_000);
    expect(code, launcher.output()).to.equal(0);
    for (const pid of pids) expect(isPidAlive(pid), `node process ${pid} is still running`).to.equal(false);
    expect(launcher.output().match(/node exited \(exit 0, stopped cleanly\)/g)).to.have.length(3);
  });

  it('stops its nodes when the launcher itself is killed with SIGKILL', async () => {
    const launcher = startProcess([falconNodeEntry, '--config', cluster.configPath, '--log-format', 'json']);
    const pids: number[] = [];
    for (const node of cluster.nodes) {
      const { body } = await waitForHttp(`http://127.0.0.1:${node.opsPort}/status`, (status) => status === 200, 20_000, () => launcher.output());
      pids.push((JSON.parse(body) as { pid: number }).pid);
    }
    launcher.child.kill('SIGKILL');
    await waitForExit(launcher, 5_000);
    const deadline = Date.now() + 15_000;
    while (pids.some(isPidAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const orphans = pids.filter(isPidAlive);
    for (const pid of orphans) process.kill(pid, 'SIGKILL');
    expect(orphans, 'node processes left running after their launcher died').to.deep.equal([]);
  });

  it('refuses an unknown --node with exit code 2 and the known ids', async () => {
    const run = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n9']);
    expect(await waitForExit(run, 10_000)).to.equal(2);
    expect(run.output()).to.contain("--node n9: no node with id 'n9'").and.contain('n1, n2, n3');
  });

  it('refuses a bad cluster file with exit code 2 and names the line and field', async () => {
    const bad = join(cluster.dir, 'bad.yaml');
    await writeFile(bad, 'cluster:\n  name: x\nnodes:\n  - id: n1\n    host: 127.0.0.1\n    peerPort: seventy\n    clientPort: 7201\n    opsPort: 7301\n    dataDir: ./d\n');
    const run = startProcess([falconNodeEntry, '--config', bad]);
    expect(await waitForExit(run, 10_000)).to.equal(2);
    expect(run.output()).to.match(/bad\.yaml:6: nodes\[0\]\.peerPort: /);
  });

  it('refuses to start with exit code 2 when its ops port is taken', async () => {
    const opsPort = cluster.nodes[0]?.opsPort ?? 0;
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(opsPort, '127.0.0.1', () => resolve()));
    try {
      const run = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n1', '--log-format', 'json']);
      expect(await waitForExit(run, 10_000)).to.equal(2);
      expect(run.output()).to.contain(`cannot listen on the ops port 127.0.0.1:${opsPort}: EADDRINUSE`);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('explains every flag in --help', async () => {
    const run = startProcess([falconNodeEntry, '--help']);
    expect(await waitForExit(run, 10_000)).to.equal(0);
    for (const flag of ['--config', '--node', '--log-level', '--log-format', 'Exit codes', '/healthz']) expect(run.output()).to.contain(flag);
  });
});
