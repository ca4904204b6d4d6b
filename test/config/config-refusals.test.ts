/**
 * Every refusal of cluster.yaml, with its full one-line message: the file, the line, the field
 * and the rule. A refusal a user cannot act on is a bug, so the text itself is what is asserted.
 *
 * Runs on: the mocha process.
 */

import { expect } from 'chai';
import { ConfigError, configErrorExitCode } from '../../src/config/load-config.js';
import { expectRefused, file, threeNodesYaml } from './config-test-support.js';

const node1 = '  - {id: n1, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: ./data/n1}';
const node2 = '  - {id: n2, peerPort: 7102, clientPort: 7202, opsPort: 7302, dataDir: ./data/n2}';
const node3 = '  - {id: n3, peerPort: 7103, clientPort: 7203, opsPort: 7303, dataDir: ./data/n3}';


describe('cluster.yaml refusals: wrong types and values', () => {
  it('a port written as text names the file, line, field, rule and the value', () => {
    const text = file(
      'cluster:', '  name: demo', 'nodes:', '  - id: n1', '    peerPort: 7101', '    clientPort: 7201', '    opsPort: 7301',
      '    dataDir: ./data/n1', '  - id: n2', '    host: 127.0.0.1', '    clientPort: 7202', '    opsPort: 7302',
      '    dataDir: ./data/n2', '    peerPort: "71O2"', node3);
    expectRefused(text, {
      message: 'cluster.yaml:14: nodes[1].peerPort: expected an integer from 1 to 65535, got "71O2"',
      field: 'nodes[1].peerPort', line: 14,
    });
  });

  it('ports outside 1..65535 are refused', () => {
    expectRefused(file('nodes:', '  - {id: n1, peerPort: 0, clientPort: 7201, opsPort: 7301, dataDir: a}'), {
      message: 'cluster.yaml:2: nodes[0].peerPort: expected an integer from 1 to 65535, got 0', field: 'nodes[0].peerPort', line: 2,
    });
    expectRefused(file('nodes:', '  - id: n1', '    peerPort: 7101', '    clientPort: 65536', '    opsPort: 7301', '    dataDir: a'), {
      message: 'cluster.yaml:4: nodes[0].clientPort: expected an integer from 1 to 65535, got 65536', field: 'nodes[0].clientPort', line: 4,
    });
  });

  it('counts, sizes and durations must be positive integers', () => {
    expectRefused(file('raft:', '  heartbeatIntervalMs: 0', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.heartbeatIntervalMs: expected a positive integer, got 0', field: 'raft.heartbeatIntervalMs', line: 2,
    });
    expectRefused(file('queue:', '  leaseMsDefault: 1.5', threeNodesYaml), {
      message: 'cluster.yaml:2: queue.leaseMsDefault: expected a positive integer, got 1.5', field: 'queue.leaseMsDefault', line: 2,
    });
    expectRefused(file('wal:', '  segmentBytes: -4096', threeNodesYaml), {
      message: 'cluster.yaml:2: wal.segmentBytes: expected a positive integer, got -4096', field: 'wal.segmentBytes', line: 2,
    });
    expectRefused(file('supervisor:', '  restartsMax: -1', threeNodesYaml), {
      message: 'cluster.yaml:2: supervisor.restartsMax: expected an integer >= 0, got -1', field: 'supervisor.restartsMax', line: 2,
    });
  });

  it('a value left empty is named as such, not as "null"', () => {
    expectRefused(file('raft:', '  frameBytesMax:', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.frameBytesMax: expected a positive integer, got an empty value', field: 'raft.frameBytesMax', line: 2,
    });
  });

  it('flags must be booleans, not strings that look like them', () => {
    expectRefused(file('raft:', '  preVote: "yes"', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.preVote: expected true or false, got "yes"', field: 'raft.preVote', line: 2,
    });
  });

  it('fsync and the log level accept only their listed values', () => {
    expectRefused(file('wal:', '  fsync: never', threeNodesYaml), {
      message: "cluster.yaml:2: wal.fsync: expected one of 'always', 'unsafeNoFsync', got \"never\"", field: 'wal.fsync', line: 2,
    });
    expectRefused(file('logging: {level: verbose}', threeNodesYaml), {
      message: "cluster.yaml:1: logging.level: expected one of 'trace', 'debug', 'info', 'warn', 'error', 'fatal', got \"verbose\"",
      field: 'logging.level', line: 1,
    });
  });

  it('the ring capacity must be a power of two within its bounds', () => {
    const rule = 'expected a power of two from 65536 to 1073741824';
    for (const [value, shown] of [[3_000_000, '3000000'], [32_768, '32768'], [2_147_483_648, '2147483648']] as const) {
      expectRefused(file('ring:', `  capacityBytes: ${value}`, threeNodesYaml), {
        message: `cluster.yaml:2: ring.capacityBytes: ${rule}, got ${shown}`, field: 'ring.capacityBytes', line: 2,
      });
    }
  });

  it('node ids must be short and plain', () => {
    const rule = 'expected an id of 1 to 32 letters, digits, _ or -, starting with a letter or digit';
    expectRefused(file('nodes:', '  - {id: "node 1", peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a}'), {
      message: `cluster.yaml:2: nodes[0].id: ${rule}, got "node 1"`, field: 'nodes[0].id', line: 2,
    });
    expectRefused(file('nodes:', '  - {id: -n1, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a}'), {
      message: `cluster.yaml:2: nodes[0].id: ${rule}, got "-n1"`, field: 'nodes[0].id', line: 2,
    });
    expectRefused(file('nodes:', `  - {id: ${'n'.repeat(33)}, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a}`), {
      message: `cluster.yaml:2: nodes[0].id: ${rule}, got "${'n'.repeat(33)}"`, field: 'nodes[0].id', line: 2,
    });
  });

  it('a host peers cannot connect to (a wildcard) is refused', () => {
    expectRefused(file('nodes:', '  - {id: n1, host: 0.0.0.0, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a}'), {
      message: 'cluster.yaml:2: nodes[0].host: expected an IP address or host name that peers can connect to (not 0.0.0.0 or ::), got "0.0.0.0"',
      field: 'nodes[0].host', line: 2,
    });
  });

  it('the cluster name must be plain text', () => {
    expectRefused(file('cluster:', '  name: "my cluster"', threeNodesYaml), {
      message: 'cluster.yaml:2: cluster.name: expected a name of letters, digits, _ . - (1 to 64 characters), got "my cluster"',
      field: 'cluster.name', line: 2,
    });
  });

  it('a required node field that is missing is named, on the line of its node', () => {
    expectRefused(file('nodes:', node1, '  - id: n2', '    peerPort: 7102', '    clientPort: 7202', '    dataDir: b', node3), {
      message: 'cluster.yaml:3: nodes[1].opsPort: missing; expected an integer from 1 to 65535', field: 'nodes[1].opsPort', line: 3,
    });
  });

  it('a section that is not a mapping is refused', () => {
    expectRefused(file('raft: 5', threeNodesYaml), {
      message: 'cluster.yaml:1: raft: expected a mapping of raft settings, got 5', field: 'raft', line: 1,
    });
    expectRefused(file('queue:', '  - payloadBytesMax: 10', threeNodesYaml), {
      message: 'cluster.yaml:1: queue: expected a mapping of queue settings, got a list', field: 'queue', line: 1,
    });
  });

  it('an empty or missing nodes list is refused', () => {
    expectRefused(file('cluster: {name: demo}', 'nodes: []'), {
      message: 'cluster.yaml:2: nodes: expected at least one node, got an empty list', field: 'nodes', line: 2,
    });
    expectRefused(file('cluster: {name: demo}'), {
      message: 'cluster.yaml:1: nodes: missing; expected a list of nodes (each with id, host, peerPort, clientPort, opsPort, dataDir)',
      field: 'nodes', line: 1,
    });
    expectRefused(file('nodes: n1'), {
      message: 'cluster.yaml:1: nodes: expected a list of nodes (each with id, host, peerPort, clientPort, opsPort, dataDir), got "n1"',
      field: 'nodes', line: 1,
    });
  });
});

describe('cluster.yaml refusals: unknown keys', () => {
  it('a misspelt key in a section is refused with the nearest known key', () => {
    expectRefused(file('raft:', '  electionTimeoutMsMin: 300', '  heartbeatIntervalMS: 50', threeNodesYaml), {
      message: "cluster.yaml:3: raft.heartbeatIntervalMS: unknown key 'heartbeatIntervalMS' in section 'raft'; did you mean 'heartbeatIntervalMs'?",
      field: 'raft.heartbeatIntervalMS', line: 3,
    });
    expectRefused(file('raft:', '  heartbeatInterval: 50', threeNodesYaml), {
      message: "cluster.yaml:2: raft.heartbeatInterval: unknown key 'heartbeatInterval' in section 'raft'; did you mean 'heartbeatIntervalMs'?",
      field: 'raft.heartbeatInterval', line: 2,
    });
  });

  it('a key far from every known one lists the known keys instead of guessing', () => {
    expectRefused(file('logging:', '  destination: stderr', threeNodesYaml), {
      message: "cluster.yaml:2: logging.destination: unknown key 'destination' in section 'logging'; known keys: level",
      field: 'logging.destination', line: 2,
    });
  });

  it('a misspelt section name is refused at the top level', () => {
    expectRefused(file(threeNodesYaml, 'rafts:', '  preVote: true'), {
      message: "cluster.yaml:5: rafts: unknown key 'rafts' in the top level; did you mean 'raft'?", field: 'rafts', line: 5,
    });
  });

  it('a snake_case key in a node finds its camelCase name', () => {
    expectRefused(file('nodes:', node1, '  - {id: n2, peer_port: 7102, peerPort: 7102, clientPort: 7202, opsPort: 7302, dataDir: b}'), {
      message: "cluster.yaml:3: nodes[1].peer_port: unknown key 'peer_port' in nodes[1]; did you mean 'peerPort'?",
      field: 'nodes[1].peer_port', line: 3,
    });
  });
});

describe('cluster.yaml refusals: rules between fields', () => {
  it('electionTimeoutMsMin must be less than electionTimeoutMsMax', () => {
    expectRefused(file('raft:', '  electionTimeoutMsMin: 600', '  electionTimeoutMsMax: 600', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.electionTimeoutMsMin: electionTimeoutMsMin (600) must be less than electionTimeoutMsMax (600); ' +
        'timeouts are drawn from between them',
      field: 'raft.electionTimeoutMsMin', line: 2,
    });
  });

  it('when only the other field of a rule was written, the error points at that one', () => {
    expectRefused(file('raft:', '  preVote: true', '  electionTimeoutMsMax: 200', threeNodesYaml), {
      message: 'cluster.yaml:3: raft.electionTimeoutMsMax: electionTimeoutMsMin (300) must be less than electionTimeoutMsMax (200); ' +
        'timeouts are drawn from between them',
      field: 'raft.electionTimeoutMsMax', line: 3,
    });
  });

  it('heartbeatIntervalMs must be less than electionTimeoutMsMin', () => {
    expectRefused(file('raft:', '  heartbeatIntervalMs: 300', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.heartbeatIntervalMs: heartbeatIntervalMs (300) must be less than electionTimeoutMsMin (300); ' +
        'followers would start elections against a live leader',
      field: 'raft.heartbeatIntervalMs', line: 2,
    });
  });

  it('supervisor timings must leave room for a healthy actor and a growing back-off', () => {
    expectRefused(file('supervisor:', '  livenessIntervalMs: 3000', threeNodesYaml), {
      message: 'cluster.yaml:2: supervisor.livenessIntervalMs: livenessIntervalMs (3000) must be less than livenessTimeoutMs (3000); ' +
        'healthy actors would be declared stuck',
      field: 'supervisor.livenessIntervalMs', line: 2,
    });
    expectRefused(file('supervisor:', '  restartBackoffMsMax: 50', threeNodesYaml), {
      message: 'cluster.yaml:2: supervisor.restartBackoffMsMax: restartBackoffMsMin (100) must be at most restartBackoffMsMax (50)',
      field: 'supervisor.restartBackoffMsMax', line: 2,
    });
  });

  it('a payload must fit in a client frame and a ring message, and a client frame in a peer frame', () => {
    expectRefused(file('queue:', '  payloadBytesMax: 8388608', 'ring:', '  capacityBytes: 33554432', threeNodesYaml), {
      message: 'cluster.yaml:2: queue.payloadBytesMax: payloadBytesMax (8388608) must be at most clientFrameBytesMax (4194304); ' +
        'a payload travels in a client frame',
      field: 'queue.payloadBytesMax', line: 2,
    });
    expectRefused(file('ring:', '  capacityBytes: 1048576', threeNodesYaml), {
      message: 'cluster.yaml:2: ring.capacityBytes: queue.payloadBytesMax (1048576) must be at most 3/8 of ring.capacityBytes (393216); ' +
        'a job travels between threads in one ring message',
      field: 'ring.capacityBytes', line: 2,
    });
    expectRefused(file('raft:', '  frameBytesMax: 2097152', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.frameBytesMax: queue.clientFrameBytesMax (4194304) must be at most raft.frameBytesMax (2097152); ' +
        'a client batch is replicated in one peer frame',
      field: 'raft.frameBytesMax', line: 2,
    });
  });

  it('the worker TTL jitter must be smaller than the TTL', () => {
    expectRefused(file('queue:', '  workerTtlMs: 1000', threeNodesYaml), {
      message: 'cluster.yaml:2: queue.workerTtlMs: workerTtlJitterMs (1000) must be less than workerTtlMs (1000)',
      field: 'queue.workerTtlMs', line: 2,
    });
  });
});

describe('cluster.yaml refusals: rules between nodes', () => {
  it('two nodes with the same id are refused, naming the first', () => {
    expectRefused(file('nodes:', node1, node2, '  - {id: n1, peerPort: 7103, clientPort: 7203, opsPort: 7303, dataDir: ./data/n3}'), {
      message: "cluster.yaml:4: nodes[2].id: duplicate node id 'n1' (also nodes[0])", field: 'nodes[2].id', line: 4,
    });
  });

  it('a host:port used twice across nodes is refused, naming both users', () => {
    expectRefused(file('nodes:', node1, '  - {id: n2, peerPort: 7102, clientPort: 7101, opsPort: 7302, dataDir: ./data/n2}', node3), {
      message: 'cluster.yaml:3: nodes[1].clientPort: 127.0.0.1:7101 is used twice: by nodes[0].peerPort and by nodes[1].clientPort; ' +
        'every port must be unique per host',
      field: 'nodes[1].clientPort', line: 3,
    });
  });

  it('a port used twice within one node is refused', () => {
    expectRefused(file('nodes:', '  - id: n1', '    peerPort: 7101', '    clientPort: 7201', '    opsPort: 7201', '    dataDir: a'), {
      message: 'cluster.yaml:5: nodes[0].opsPort: 127.0.0.1:7201 is used twice: by nodes[0].clientPort and by nodes[0].opsPort; ' +
        'every port must be unique per host',
      field: 'nodes[0].opsPort', line: 5,
    });
  });

  it('host names differing only in case are the same host', () => {
    expectRefused(file('nodes:',
      '  - {id: n1, host: Box.Local, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: a}',
      '  - {id: n2, host: box.local, peerPort: 7101, clientPort: 7202, opsPort: 7302, dataDir: b}'), {
      message: 'cluster.yaml:3: nodes[1].peerPort: box.local:7101 is used twice: by nodes[0].peerPort and by nodes[1].peerPort; ' +
        'every port must be unique per host',
      field: 'nodes[1].peerPort', line: 3,
    });
  });

  it('two nodes sharing a data directory are refused, even when spelt differently', () => {
    expectRefused(file('nodes:', node1, '  - {id: n2, peerPort: 7102, clientPort: 7202, opsPort: 7302, dataDir: data/n1/}', node3), {
      message: 'cluster.yaml:3: nodes[1].dataDir: /srv/falcon/data/n1 is also the dataDir of nodes[0]; two nodes must never share a WAL',
      field: 'nodes[1].dataDir', line: 3,
    });
  });
});

describe('cluster.yaml refusals: the YAML itself', () => {
  it('a YAML syntax error reports its line', () => {
    const error = expectRefused(file('cluster:', '  name: demo', 'nodes: [', '  {id: n1}', 'raft:', '  preVote: true'), {
      message: 'cluster.yaml:5: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
      field: undefined, line: 5,
    });
    expect(error.problem).to.match(/^YAML syntax: /);
  });

  it('a tab used for indentation is a syntax error on its line', () => {
    expectRefused(file('raft:', '\tpreVote: true', threeNodesYaml), {
      message: 'cluster.yaml:2: YAML syntax: Tabs are not allowed as indentation', field: undefined, line: 2,
    });
  });

  it('a duplicate key is refused, naming both lines', () => {
    expectRefused(file('raft:', '  preVote: true', '  checkQuorum: true', '  preVote: false', threeNodesYaml), {
      message: "cluster.yaml:4: raft.preVote: duplicate key 'preVote' (first at line 2); YAML would keep only one of them, so write it once",
      field: 'raft.preVote', line: 4,
    });
    expectRefused(file('nodes:', '  - {id: n1, peerPort: 1, clientPort: 2, opsPort: 3, dataDir: a, peerPort: 4}'), {
      message: "cluster.yaml:2: nodes[0].peerPort: duplicate key 'peerPort' (first at line 2); YAML would keep only one of them, so write it once",
      field: 'nodes[0].peerPort', line: 2,
    });
  });

  it('an unknown tag is refused rather than silently turning a value into text', () => {
    expectRefused(file('raft:', '  heartbeatIntervalMs: !ms 50', threeNodesYaml), {
      message: 'cluster.yaml:2: YAML syntax: Unresolved tag: !ms', field: undefined, line: 2,
    });
  });

  it('an empty file, or one with only comments, is refused', () => {
    const message = "cluster.yaml: the file is empty; expected a mapping of sections with at least 'nodes' (see docs/configuration.md)";
    expectRefused('', { message, field: undefined, line: undefined });
    expectRefused(file('# nodes:', '#   - id: n1'), { message, field: undefined, line: undefined });
  });

  it('a top level that is not a mapping is refused', () => {
    expectRefused(file('- id: n1'), {
      message: "cluster.yaml:1: the top level is a list; expected a mapping of sections with at least 'nodes' (see docs/configuration.md)",
      field: undefined, line: 1,
    });
    expectRefused(file('', 'just some text'), {
      message: "cluster.yaml:2: the top level is \"just some text\"; expected a mapping of sections with at least 'nodes' (see docs/configuration.md)",
      field: undefined, line: 2,
    });
  });
});

describe('cluster.yaml refusals: reporting', () => {
  it('with several problems, the first one in the file is the error\'s field and line, and the message lists them all in file order', () => {
    const error = expectRefused(file('nodes:', '  - {id: n1, peerPort: 70000, clientPort: 2, opsPort: 3, dataDir: a}', 'raft:', '  bogus: 1', 'ring: {capacityBytes: 3}'), {
      field: 'nodes[0].peerPort', line: 2,
    });
    const lines = error.message.split('\n');
    expect(lines[0]).to.equal('cluster.yaml:2: nodes[0].peerPort: expected an integer from 1 to 65535, got 70000');
    expect(lines.slice(1).map((line) => line.split(': ').slice(0, 2).join(': '))).to.deep.equal(['cluster.yaml:4: raft.bogus', 'cluster.yaml:5: ring.capacityBytes']);
  });

  it('a file with very many problems lists the first ten and says how many more', () => {
    const bogus = Array.from({ length: 12 }, (_, at) => `  bogus${at}: 1`);
    const error = expectRefused(file('raft:', ...bogus, threeNodesYaml), { field: 'raft.bogus0', line: 2 });
    const lines = error.message.split('\n');
    expect(lines).to.have.length(11);
    expect(lines[10]).to.equal('... and 2 more problems');
  });

  it('a refusal is a CONFIG_INVALID error value too, and the CLI exit code for it is 2', () => {
    const error = expectRefused(file('raft:', '  preVote: 1', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.preVote: expected true or false, got 1', field: 'raft.preVote', line: 2,
    });
    expect(error).to.be.instanceOf(Error);
    expect(error.name).to.equal('ConfigError');
    expect(error.code).to.equal('CONFIG_INVALID');
    expect(error.toFalconError()).to.deep.equal({
      code: 'CONFIG_INVALID', message: error.message, detail: { source: 'cluster.yaml', line: 2, field: 'raft.preVote' },
    });
    expect(configErrorExitCode).to.equal(2);
    expect(ConfigError).to.be.a('function');
  });
});
