/**
 * A test cluster whose nodes serve gRPC: the harness's cluster file (free loopback ports, data
 * under a temp directory) with a `grpcPort` on each node. Started and stopped with ClusterNodes.
 *
 * Runs on: test process.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../support/free-port.js';
import type { TestCluster, TestNode } from '../support/test-cluster.js';

export interface GrpcTestCluster extends TestCluster {
  /** Node id -> its gRPC address (127.0.0.1:grpcPort). */
  readonly grpcAddresses: ReadonlyMap<string, string>;
}

export async function createGrpcTestCluster(nodeCount: number, extraYaml = ''): Promise<GrpcTestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'falcon-grpc-test-'));
  const ports = await freePorts(nodeCount * 4);
  const nodes: TestNode[] = [];
  const grpcAddresses = new Map<string, string>();
  const lines = ['cluster:', '  name: falcon-grpc-test', 'nodes:'];
  for (let i = 0; i < nodeCount; i += 1) {
    const [peerPort = 0, clientPort = 0, opsPort = 0, grpcPort = 0] = ports.slice(i * 4, i * 4 + 4);
    const node = { id: `n${i + 1}`, peerPort, clientPort, opsPort };
    nodes.push(node);
    grpcAddresses.set(node.id, `127.0.0.1:${grpcPort}`);
    lines.push(`  - id: ${node.id}`, '    host: 127.0.0.1', `    peerPort: ${peerPort}`, `    clientPort: ${clientPort}`,
      `    opsPort: ${opsPort}`, `    grpcPort: ${grpcPort}`, `    dataDir: ./data/${node.id}`);
  }
  lines.push('logging:', '  level: warn');
  const configPath = join(dir, 'cluster.yaml');
  await writeFile(configPath, `${lines.join('\n')}\n${extraYaml}`);
  return { dir, configPath, nodes, grpcAddresses };
}
