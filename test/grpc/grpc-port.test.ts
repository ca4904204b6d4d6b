/**
 * The gRPC port as an operator meets it: `grpcPort` in cluster.yaml is optional and checked like
 * the other ports (unique per host), and a node whose gRPC port is taken refuses to start with
 * exit code 2 and one clear line, as it does for its ops port.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { exitCodes } from '../../src/runtime/exit-codes.js';
import { expectRefused, file, parseText } from '../config/config-test-support.js';
import { removeTestCluster, startProcess, waitForExit, falconNodeEntry } from '../support/test-cluster.js';
import { createGrpcTestCluster } from './grpc-cluster.js';

describe('the gRPC port in cluster.yaml', () => {
  it('is optional: a node without grpcPort serves no gRPC, one with it names its port', () => {
    const config = parseText(file('nodes:',
      '  - {id: n1, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: a}',
      '  - {id: n2, peerPort: 7102, clientPort: 7202, opsPort: 7302, grpcPort: 7402, dataDir: b}'));
    expect(config.nodes[0]?.grpcPort).to.equal(undefined);
    expect(config.nodes[1]?.grpcPort).to.equal(7402);
  });

  it('is refused when another port of the same host uses it', () => {
    expectRefused(file('nodes:', '  - id: n1', '    peerPort: 7101', '    clientPort: 7201', '    opsPort: 7301', '    grpcPort: 7201', '    dataDir: a'), {
      message: 'cluster.yaml:6: nodes[0].grpcPort: 127.0.0.1:7201 is used twice: by nodes[0].clientPort and by nodes[0].grpcPort; ' +
        'every port must be unique per host',
      field: 'nodes[0].grpcPort', line: 6,
    });
  });

  it('is refused outside 1 to 65535', () => {
    const error = expectRefused(file('nodes:', '  - {id: n1, peerPort: 7101, clientPort: 7201, opsPort: 7301, grpcPort: 70000, dataDir: a}'), {
      field: 'nodes[0].grpcPort', line: 2,
    });
    expect(error.message).to.include('expected an integer from 1 to 65535, got 70000');
  });
});

describe('a node whose gRPC port is taken', function () {
  this.timeout(30_000);

  it('refuses to start with exit code 2, naming the port', async () => {
    const cluster = await createGrpcTestCluster(1);
    const grpcPort = Number((cluster.grpcAddresses.get('n1') ?? '').split(':')[1]);
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(grpcPort, '127.0.0.1', resolve));
    try {
      const node = startProcess([falconNodeEntry, '--config', cluster.configPath, '--node', 'n1', '--log-format', 'json']);
      expect(await waitForExit(node, 20_000)).to.equal(exitCodes.refusedToStart);
      expect(node.output()).to.include(`cannot listen on the gRPC port 127.0.0.1:${grpcPort}: EADDRINUSE`);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
      await removeTestCluster(cluster);
    }
  });
});
