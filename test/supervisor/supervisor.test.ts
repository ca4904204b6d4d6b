/**
 * The supervisor keeps a node's actors running: a failed actor is restarted, a stuck one is
 * replaced, one that keeps failing brings the node down with exit code 3 and a line that names it,
 * and SIGTERM drains the node to exit 0.
 */
import { expect } from 'chai';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadClusterConfig, selectNode } from '../../src/config/load-config.js';
import { runNode } from '../../src/supervisor/run-node.js';
import { exitCodes } from '../../src/runtime/exit-codes.js';
import type { ActorName } from '../../src/runtime/topology.js';
import {
  createTestCluster, falconNodeEntry, removeTestCluster, startProcess, waitForExit, waitForHttp, type TestCluster,
} from '../support/test-cluster.js';

const fixture = (name: string): string => new URL(`./fixtures/${name}.js`, import.meta.url).href;

/** A node run in this process, with its log lines kept in memory. */
function runInProcess(cluster: TestCluster, roleModuleUrls: Partial<Record<ActorName, string>>) {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
  const logger = pino({ level: 'info' }, sink);
  const config = loadClusterConfig(cluster.configPath);
  let requestStop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => { requestStop = resolve; });
  const node = selectNode(config, 'n1');
  const exitCode = runNode({ config, node, logger, logFormat: 'json', roleModuleUrls, stopRequested });
  return { exitCode, lines, stop: requestStop, ops: `http://127.0.0.1:${node.opsPort}` };
}

const fastRestarts = `
supervisor:
  livenessIntervalMs: 50
  livenessTimeoutMs: 1000
  restartBackoffMsMin: 20
  restartBackoffMsMax: 200
  restartsMax: 2
  restartWindowMs: 60000
  shutdownTimeoutMs: 3000
`;

describe('supervisor', function () {
  this.timeout(30_000);
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await createTestCluster({ nodeCount: 1, extraYaml: fastRestarts, logLevel: 'warn' });
  });
  afterEach(async () => {
    await removeTestCluster(cluster);
  });

  it('restarts an actor that throws, and the node becomes healthy again', async () => {
    const node = runInProcess(cluster, { walWriter: fixture('throw-once-role') });
    try {
      const { body } = await waitForHttp(`${node.ops}/status`, (status, text) => {
        const actors = (JSON.parse(text) as { actors?: Record<string, { restarts: number; state: string }> }).actors;
        return status === 200 && actors?.walWriter?.restarts === 1 && actors.walWriter.state === 'ready';
      }, 10_000, () => node.lines.join('\n'));
      const status = JSON.parse(body) as { actors: Record<string, { lastFailure: string }> };
      expect(status.actors['walWriter']?.lastFailure).to.contain('disk on fire');
      await waitForHttp(`${node.ops}/healthz`, (code) => code === 200, 5_000);
      expect(node.lines.join('\n')).to.contain('actor walWriter failed; restarting');
    } finally {
      node.stop('test over');
      expect(await node.exitCode).to.equal(exitCodes.ok);
    }
  });

  it('replaces an actor whose event loop is blocked (its liveness counter stopped)', async () => {
    const node = runInProcess(cluster, { registry: fixture('stuck-once-role') });
    try {
      const { body } = await waitForHttp(`${node.ops}/status`, (status, text) => {
        const actors = (JSON.parse(text) as { actors?: Record<string, { restarts: number; state: string }> }).actors;
        return status === 200 && actors?.registry?.restarts === 1 && actors.registry.state === 'ready';
      }, 15_000, () => node.lines.join('\n'));
      expect((JSON.parse(body) as { actors: Record<string, { lastFailure: string }> }).actors['registry']?.lastFailure).to.contain('no liveness beat');
    } finally {
      node.stop('test over');
      expect(await node.exitCode).to.equal(exitCodes.ok);
    }
  });

  it('reports a failing actor on /healthz with 503 and its name while it restarts', async () => {
    const slowRestart = await createTestCluster({ nodeCount: 1, logLevel: 'warn', extraYaml: fastRestarts.replace('restartBackoffMsMin: 20', 'restartBackoffMsMin: 4000').replace('restartBackoffMsMax: 200', 'restartBackoffMsMax: 4000') });
    const node = runInProcess(slowRestart, { dispatcher: fixture('throw-once-role') });
    try {
      const { body } = await waitForHttp(`${node.ops}/healthz`, (status) => status === 503, 10_000, () => node.lines.join('\n'));
      const health = JSON.parse(body) as { status: string; actors: Record<string, string> };
      expect(health.status).to.equal('failing');
      expect(health.actors).to.have.property('dispatcher').that.contains('disk on fire');
    } finally {
      node.stop('test over');
      await node.exitCode;
      await removeTestCluster(slowRestart);
    }
  });

  it('brings the node down with exit code 3 and names the actor when it keeps failing', async () => {
    const node = runInProcess(cluster, { replicator: fixture('always-throw-role') });
    const code = await node.exitCode;
    expect(code).to.equal(exitCodes.actorFailed);
    const fatal = node.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.level >= 60).map((entry) => entry.msg);
    expect(fatal.join('\n')).to.match(/actor replicator failed 3 times within 60000 ms \(budget: 2 restarts\); last failure: .*poisoned record/);
  });

  it('drains on SIGTERM: the node process exits 0 within the shutdown bound', async () => {
    const node = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n1', '--log-format', 'json', '--log-level', 'info']);
    const opsPort = cluster.nodes[0]?.opsPort ?? 0;
    await waitForHttp(`http://127.0.0.1:${opsPort}/readyz`, (status) => status === 200, 15_000, () => node.output());
    node.child.kill('SIGTERM');
    const code = await waitForExit(node, 3_000 + 2_000);
    expect(code, node.output()).to.equal(0);
    expect(node.output()).to.contain('node n1 stopped (SIGTERM)');
  });
});
