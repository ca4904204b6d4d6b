/**
 * Two falcon-node processes can never run on one data directory: the second exits with code 2 and
 * one line naming the directory and the first one's PID, even when its ports differ (so no port
 * conflict stops it first); once the first is killed with SIGKILL, a new start on that directory
 * succeeds with no clean-up.
 *
 * Runs on: test process.
 */
import { expect } from 'chai';
import { readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts } from '../support/free-port.js';
import {
  createTestCluster, falconNodeEntry, removeTestCluster, startProcess, waitForExit, waitForHttp, type TestCluster,
} from '../support/test-cluster.js';

/** A copy of the cluster file in which node n1 has other ports but the same data directory. */
async function sameDataDirOtherPorts(cluster: TestCluster): Promise<{ configPath: string; opsPort: number }> {
  const n1 = cluster.nodes[0];
  if (n1 === undefined) throw new Error('the test cluster has no n1');
  const [peerPort, clientPort, opsPort] = await freePorts(3) as [number, number, number];
  const text = (await readFile(cluster.configPath, 'utf8'))
    .replace(`peerPort: ${n1.peerPort}\n`, `peerPort: ${peerPort}\n`)
    .replace(`clientPort: ${n1.clientPort}\n`, `clientPort: ${clientPort}\n`)
    .replace(`opsPort: ${n1.opsPort}\n`, `opsPort: ${opsPort}\n`);
  const configPath = join(cluster.dir, 'same-dir-other-ports.yaml');
  await writeFile(configPath, text);
  return { configPath, opsPort };
}

describe('falcon-node data-directory lock', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  beforeEach(async () => {
    cluster = await createTestCluster({ nodeCount: 3 });
  });
  afterEach(async () => {
    await removeTestCluster(cluster);
  });

  it('refuses a second node on the same data directory with exit 2, naming the directory and the first PID; after a SIGKILL the directory is free', async () => {
    const opsPort = cluster.nodes[0]?.opsPort ?? 0;
    const first = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n1', '--log-format', 'json']);
    const { body } = await waitForHttp(`http://127.0.0.1:${opsPort}/status`, (status) => status === 200, 20_000, () => first.output());
    const firstPid = (JSON.parse(body) as { pid: number }).pid;
    const other = await sameDataDirOtherPorts(cluster);
    const dataDir = await realpath(join(cluster.dir, 'data', 'n1'));

    const second = startProcess([falconNodeEntry, '--config', other.configPath, '--node', 'n1', '--log-format', 'json']);
    expect(await waitForExit(second, 20_000), second.output()).to.equal(2);
    const refusal = second.output().split('\n').find((line) => line.includes('is in use by another process'));
    expect(refusal, second.output()).to.be.a('string');
    expect(refusal).to.contain(dataDir).and.contain(`pid ${firstPid}`).and.contain('node n1');

    first.child.kill('SIGKILL');
    await waitForExit(first, 10_000);
    const third = startProcess([falconNodeEntry, '--config', other.configPath, '--node', 'n1', '--log-format', 'json']);
    const after = await waitForHttp(`http://127.0.0.1:${other.opsPort}/status`, (status) => status === 200, 20_000, () => third.output());
    expect((JSON.parse(after.body) as { pid: number }).pid).to.equal(third.child.pid);
  });
});
