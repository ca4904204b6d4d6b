/**
 * What a node gets from a valid file: the shipped cluster.yaml, the defaults a minimal file
 * falls back to, resolved data directories, warnings, and a frozen result.
 *
 * Runs on: the mocha process.
 */

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadClusterConfig } from '../../src/config/load-config.js';
import { parseText, testBaseDir, testSource, threeNodesYaml } from './config-test-support.js';

// dist/test/config/<this>.js → the repository root.
const shippedConfigPath = fileURLToPath(new URL('../../../cluster.yaml', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

describe('cluster.yaml: valid files and their defaults', () => {
  it('the shipped cluster.yaml loads as a 3-node local cluster on the agreed ports', () => {
    const config = loadClusterConfig(shippedConfigPath);
    expect(config.cluster.name).to.equal('falconqueue');
    expect(config.nodes.map((node) => [node.id, node.host, node.peerPort, node.clientPort, node.opsPort])).to.deep.equal([
      ['n1', '127.0.0.1', 7101, 7201, 7301],
      ['n2', '127.0.0.1', 7102, 7202, 7302],
      ['n3', '127.0.0.1', 7103, 7203, 7303],
    ]);
    expect(config.nodes.map((node) => node.dataDir)).to.deep.equal(
      ['n1', 'n2', 'n3'].map((id) => `${repositoryRoot}/data/${id}`));
    expect(config.warnings).to.deep.equal([]);
    expect(config.source).to.equal(shippedConfigPath);
  });

  it('the shipped cluster.yaml states exactly the schema defaults, so its comments cannot drift', () => {
    const shipped = loadClusterConfig(shippedConfigPath);
    const defaults = parseText('nodes:\n  - {id: n1, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: d}\n');
    for (const section of ['cluster', 'raft', 'wal', 'queue', 'supervisor', 'ring', 'logging'] as const) {
      expect(shipped[section], section).to.deep.equal(defaults[section]);
    }
    // And every default it states is written in the file (no section silently left out).
    const text = readFileSync(shippedConfigPath, 'utf8');
    for (const section of ['raft', 'wal', 'queue', 'supervisor', 'ring', 'logging'] as const) {
      for (const field of Object.keys(defaults[section])) expect(text, `${section}.${field}`).to.match(new RegExp(`^  ${field}: `, 'm'));
    }
  });

  it('a file with only cluster.name and nodes gets every documented default', () => {
    const config = parseText(`cluster:\n  name: demo\n${threeNodesYaml}\n`);
    expect(config.cluster).to.deep.equal({ name: 'demo' });
    expect(config.raft).to.deep.equal({
      heartbeatIntervalMs: 50, electionTimeoutMsMin: 300, electionTimeoutMsMax: 500, preVote: true,
      checkQuorum: true, inflightMessagesMax: 256, inflightBytesMax: 8 * 1024 * 1024,
      uncommittedBytesMax: 64 * 1024 * 1024, batchEventsMax: 64, batchDelayMsMax: 1,
      frameBytesMax: 16 * 1024 * 1024, snapshotEveryEntries: 100_000, snapshotEveryBytes: 256 * 1024 * 1024,
    });
    expect(config.wal).to.deep.equal({ fsync: 'always', segmentBytes: 64 * 1024 * 1024, tailCacheEntries: 65_536, repairCorruption: false });
    expect(config.queue).to.deep.equal({
      payloadBytesMax: 1024 * 1024, clientFrameBytesMax: 4 * 1024 * 1024, attemptsMaxDefault: 5,
      leaseMsDefault: 30_000, dedupWindowMs: 86_400_000, workerTtlMs: 5_000, workerTtlJitterMs: 1_000,
      retryBackoffDefault: 'exponential', retryDelayMsDefault: 1_000, retryDelayMsMax: 300_000, retryJitterRatio: 0.5,
      jobsPerQueueMax: 1_000_000, bytesPerQueueMax: 256 * 1024 * 1024, queuesMax: 1_000, idempotencyKeysMax: 1_000_000,
      producersMax: 10_000, completedRetentionMs: 3_600_000, completedPerQueueMax: 10_000, requestTimeoutMs: 10_000,
      clientConnectionsMax: 1_024, clientSendQueueBytesMax: 16 * 1024 * 1024,
    });
    expect(config.supervisor).to.deep.equal({
      livenessIntervalMs: 100, livenessTimeoutMs: 3_000, restartBackoffMsMin: 100, restartBackoffMsMax: 5_000,
      restartsMax: 5, restartWindowMs: 60_000, shutdownTimeoutMs: 5_000,
    });
    expect(config.ring).to.deep.equal({ capacityBytes: 4 * 1024 * 1024 });
    expect(config.logging).to.deep.equal({ level: 'info' });
    expect(config.nodes[0]?.host).to.equal('127.0.0.1');
  });

  it('a file with only nodes loads too (the cluster name has a default)', () => {
    expect(parseText(threeNodesYaml).cluster.name).to.equal('falconqueue');
  });

  it('a field set in the file overrides its default and leaves its neighbours at theirs', () => {
    const config = parseText(`raft:\n  heartbeatIntervalMs: 20\nring:\n  capacityBytes: 8388608\n${threeNodesYaml}\n`);
    expect(config.raft.heartbeatIntervalMs).to.equal(20);
    expect(config.raft.electionTimeoutMsMin).to.equal(300);
    expect(config.ring.capacityBytes).to.equal(8388608);
  });

  it('a section whose every line is commented out falls back to its defaults', () => {
    const config = parseText(`raft:\n  # heartbeatIntervalMs: 20\n${threeNodesYaml}\n`);
    expect(config.raft.heartbeatIntervalMs).to.equal(50);
  });

  it('dataDir resolves against the base directory, and absolute dataDirs stay as written', () => {
    const config = parseText([
      'nodes:',
      '  - {id: a, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: ./data/a}',
      '  - {id: b, peerPort: 4, clientPort: 5, opsPort: 6, dataDir: ../elsewhere/b}',
      '  - {id: c, peerPort: 7, clientPort: 8, opsPort: 9, dataDir: /var/lib/falcon/c}',
    ].join('\n'));
    expect(config.nodes.map((node) => node.dataDir)).to.deep.equal(
      [`${testBaseDir}/data/a`, '/srv/elsewhere/b', '/var/lib/falcon/c']);
  });

  it('the same port on two different hosts is allowed (they are different machines)', () => {
    const config = parseText([
      'nodes:',
      '  - {id: a, host: 10.0.0.1, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: a}',
      '  - {id: b, host: 10.0.0.2, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: b}',
      '  - {id: c, host: db3.example.internal, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: c}',
    ].join('\n'));
    expect(config.nodes).to.have.length(3);
  });

  it('an even node count loads, with a warning that explains the majority', () => {
    const config = parseText([
      'nodes:',
      '  - {id: a, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a}',
      '  - {id: b, peerPort: 4, clientPort: 5, opsPort: 6, dataDir: b}',
      '  - {id: c, peerPort: 7, clientPort: 8, opsPort: 9, dataDir: c}',
      '  - {id: d, peerPort: 10, clientPort: 11, opsPort: 12, dataDir: d}',
    ].join('\n'));
    expect(config.warnings).to.deep.equal([
      `${testSource}: 4 nodes is an even count: a majority is 3, so 1 node(s) may fail, the same as with 3; prefer an odd count`,
    ]);
  });

  it('a single node and five nodes load without a node-count warning', () => {
    expect(parseText('nodes:\n  - {id: solo, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a}\n').warnings).to.deep.equal([]);
    const five = Array.from({ length: 5 }, (_, index) =>
      `  - {id: n${index}, peerPort: ${7100 + index}, clientPort: ${7200 + index}, opsPort: ${7300 + index}, dataDir: d${index}}`);
    expect(parseText(`nodes:\n${five.join('\n')}\n`).warnings).to.deep.equal([]);
  });

  it('unsafeNoFsync and repairCorruption load but are called out in warnings', () => {
    const config = parseText(`wal:\n  fsync: unsafeNoFsync\n  repairCorruption: true\n${threeNodesYaml}\n`);
    expect(config.wal.fsync).to.equal('unsafeNoFsync');
    expect(config.warnings).to.deep.equal([
      `${testSource}: wal.fsync is 'unsafeNoFsync': acknowledged jobs can be lost on a crash; benchmarks only`,
      `${testSource}: wal.repairCorruption is on: a corrupt WAL is truncated and re-replicated, not refused`,
    ]);
  });

  it('the loaded config is frozen all the way down, so no actor can change what another read', () => {
    const config = parseText(threeNodesYaml);
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.raft)).to.equal(true);
    expect(Object.isFrozen(config.nodes)).to.equal(true);
    expect(Object.isFrozen(config.nodes[0])).to.equal(true);
    expect(() => { (config.raft as { heartbeatIntervalMs: number }).heartbeatIntervalMs = 1; }).to.throw(TypeError);
  });
});
