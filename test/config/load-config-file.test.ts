/**
 * Reading cluster.yaml from disk and picking this process's node: a missing, unreadable or odd
 * file is refused naming its path; relative data directories resolve against the file's own
 * directory, not the working directory; `--node` with an unknown id lists the known ones.
 *
 * Runs on: the mocha process. Temp files live under os.tmpdir() and are removed after.
 */

import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ConfigError, configFileBytesMax, loadClusterConfig, selectNode } from '../../src/config/load-config.js';
import { parseText, threeNodesYaml } from './config-test-support.js';

function refusal(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the call succeeded');
}

describe('loading cluster.yaml from a file', () => {
  let directory = '';

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'falcon-config-'));
  });

  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('resolves relative dataDirs against the directory of the file, wherever the process runs', () => {
    mkdirSync(join(directory, 'etc'));
    const path = join(directory, 'etc', 'cluster.yaml');
    writeFileSync(path, threeNodesYaml);
    // A relative path as a user would type it: messages keep it, dataDirs do not depend on it.
    const typedPath = relative(process.cwd(), path);
    const config = loadClusterConfig(typedPath);
    expect(config.source).to.equal(typedPath);
    expect(config.nodes.map((node) => node.dataDir)).to.deep.equal(
      ['n1', 'n2', 'n3'].map((id) => join(directory, 'etc', 'data', id)));
  });

  it('names the file as given, and its line, in a refusal', () => {
    const path = join(directory, 'broken.yaml');
    writeFileSync(path, `${threeNodesYaml}\nraft:\n  preVote: maybe\n`);
    const error = refusal(() => loadClusterConfig(path));
    expect(error.message).to.equal(`${path}:6: raft.preVote: expected true or false, got "maybe"`);
    expect(error.source).to.equal(path);
  });

  it('a missing file is refused naming the path it looked at', () => {
    const path = join(directory, 'nope.yaml');
    const error = refusal(() => loadClusterConfig(path));
    expect(error.message).to.equal(`${path}: cannot read the config file ${path}: no such file (ENOENT)`);
    expect(error.line).to.equal(undefined);
    expect(error.field).to.equal(undefined);
  });

  it('a directory given as the config file is refused', () => {
    const error = refusal(() => loadClusterConfig(directory));
    expect(error.message).to.equal(`${directory}: cannot read the config file ${directory}: it is a directory, not a file (EISDIR)`);
  });

  it('an unreadable file is refused as such', function () {
    // root reads any file whatever its mode, so the refusal cannot be provoked there.
    if (process.getuid?.() === 0) this.skip();
    const path = join(directory, 'secret.yaml');
    writeFileSync(path, threeNodesYaml);
    chmodSync(path, 0o000);
    const error = refusal(() => loadClusterConfig(path));
    expect(error.message).to.equal(`${path}: cannot read the config file ${path}: permission denied (EACCES)`);
  });

  it('a file that is not UTF-8 is refused', () => {
    const path = join(directory, 'latin1.yaml');
    writeFileSync(path, Buffer.concat([Buffer.from('cluster:\n  name: caf'), Buffer.from([0xe9]), Buffer.from(`\n${threeNodesYaml}\n`)]));
    expect(refusal(() => loadClusterConfig(path)).message).to.equal(`${path}: the file is not valid UTF-8`);
  });

  it('a file with a UTF-8 byte-order mark loads', () => {
    const path = join(directory, 'bom.yaml');
    writeFileSync(path, `\uFEFF${threeNodesYaml}\n`);
    expect(loadClusterConfig(path).nodes).to.have.length(3);
  });

  it('a file larger than a config could be is refused before it is parsed', () => {
    const path = join(directory, 'huge.yaml');
    writeFileSync(path, `${threeNodesYaml}\n${'#'.repeat(configFileBytesMax)}\n`);
    const error = refusal(() => loadClusterConfig(path));
    expect(error.message).to.match(new RegExp(`^${path}: the file is \\d+ bytes, more than the ${configFileBytesMax} a config may be`));
  });
});

describe('selecting this process node (--node)', () => {
  it('returns the node with that id', () => {
    const config = parseText(threeNodesYaml);
    const node = selectNode(config, 'n2');
    expect(node.id).to.equal('n2');
    expect(node.peerPort).to.equal(7102);
    expect(node).to.equal(config.nodes[1]);
  });

  it('an unknown id is refused listing the known ones', () => {
    const config = parseText(threeNodesYaml);
    const error = refusal(() => selectNode(config, 'n9'));
    expect(error.message).to.equal("--node n9: no node with id 'n9' in cluster.yaml (known: n1, n2, n3)");
    expect(error.source).to.equal('cluster.yaml');
  });

  it('ids are matched exactly, not by case', () => {
    const config = parseText(threeNodesYaml);
    expect(refusal(() => selectNode(config, 'N1')).message).to.equal(
      "--node N1: no node with id 'N1' in cluster.yaml (known: n1, n2, n3)");
  });
});
