/**
 * The `handlers` section of cluster.yaml: empty by default (a node with no handlers runs no jobs),
 * module paths resolved against the config file's directory and required to exist, a node's own
 * `handlers` replacing the cluster-wide ones, and refusals that name the key.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handlersOf } from '../../src/config/cluster-config.js';
import { parseClusterConfig } from '../../src/config/load-config.js';
import { expectRefused, file, parseText, testBaseDir, threeNodesYaml } from './config-test-support.js';

describe('cluster.yaml: handlers', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'falcon-handlers-'));
    await writeFile(join(dir, 'email.mjs'), 'export default async () => 1;\n');
    await writeFile(join(dir, 'sms.mjs'), 'export default async () => 2;\n');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has no handlers by default, on any node', () => {
    const config = parseText(threeNodesYaml);
    expect(config.handlers).to.deep.equal({});
    for (const node of config.nodes) expect(handlersOf(config, node)).to.deep.equal({});
  });

  it('resolves module paths against the config file directory and fills concurrency', () => {
    const text = file('handlers:', '  email: { module: ./email.mjs, concurrency: 8, leaseMs: 60000 }', '  sms: { module: sms.mjs }', threeNodesYaml);
    const config = parseClusterConfig(text, 'cluster.yaml', dir);
    expect(config.handlers).to.deep.equal({
      email: { module: join(dir, 'email.mjs'), concurrency: 8, leaseMs: 60_000 },
      sms: { module: join(dir, 'sms.mjs'), concurrency: 1 },
    });
  });

  it("a node's own handlers replace the cluster-wide ones; an empty map runs none", () => {
    const text = file(
      'handlers:',
      '  email: { module: ./email.mjs }',
      'nodes:',
      '  - {id: n1, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: ./data/n1}',
      '  - {id: n2, peerPort: 7102, clientPort: 7202, opsPort: 7302, dataDir: ./data/n2, handlers: {sms: {module: ./sms.mjs, concurrency: 2}}}',
      '  - {id: n3, peerPort: 7103, clientPort: 7203, opsPort: 7303, dataDir: ./data/n3, handlers: {}}',
    );
    const config = parseClusterConfig(text, 'cluster.yaml', dir);
    const [n1, n2, n3] = config.nodes.map((node) => handlersOf(config, node));
    expect(Object.keys(n1 ?? {})).to.deep.equal(['email']);
    expect(n2).to.deep.equal({ sms: { module: join(dir, 'sms.mjs'), concurrency: 2 } });
    expect(n3).to.deep.equal({});
  });

  it('refuses a module that does not exist, naming the key and its line', () => {
    expectRefused(file(threeNodesYaml, 'handlers:', '  email:', '    module: ./handlers/email.js'), {
      message: `cluster.yaml:7: handlers.email.module: no such file ${testBaseDir}/handlers/email.js (relative paths resolve against the config file's directory)`,
      field: 'handlers.email.module',
      line: 7,
    });
  });

  it("refuses a missing module in a node's own handlers", () => {
    const text = file(
      'nodes:',
      '  - id: n1',
      '    peerPort: 7101',
      '    clientPort: 7201',
      '    opsPort: 7301',
      '    dataDir: ./data/n1',
      '    handlers:',
      '      email: { module: /nowhere/email.js }',
    );
    const error = expectRefused(text, { field: 'nodes[0].handlers.email.module', line: 8 });
    expect(error.message).to.contain('no such file /nowhere/email.js');
  });

  it('refuses unknown handler keys with the nearest known one, and out-of-range concurrency', () => {
    const misspelt = expectRefused(file(threeNodesYaml, 'handlers:', '  email: { module: ./email.mjs, concurency: 2 }'), { field: 'handlers.email.concurency', line: 6 });
    expect(misspelt.message).to.contain("did you mean 'concurrency'?");
    const tooMany = expectRefused(file(threeNodesYaml, 'handlers:', '  email: { module: ./email.mjs, concurrency: 0 }'), { field: 'handlers.email.concurrency', line: 6 });
    expect(tooMany.message).to.contain('expected an integer from 1 to 1024, got 0');
  });

  it('refuses a queue name the protocol would refuse', () => {
    const error = expectRefused(file(threeNodesYaml, 'handlers:', '  "bad\\u0001name": { module: ./email.mjs }'), { field: 'handlers["bad\\u0001name"]', line: 6 });
    expect(error.message).to.contain('is not a queue name');
  });
});
