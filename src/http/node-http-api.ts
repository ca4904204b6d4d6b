/**
 * The HTTP API of one node, as cluster.yaml describes it: its gateway connects to this node's own
 * client port first, then to the other nodes' in the file's order, and it takes payloads up to the
 * cluster's `queue.payloadBytesMax` and batches up to what one client frame carries.
 *
 * Runs on: supervisor (main thread).
 */
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import type { Logger } from '../logging/logger.js';
import { ConnectionGateway } from './connection-gateway.js';
import { createHttpApi, type HttpApi } from './http-api.js';

export function createNodeHttpApi(config: ClusterConfig, node: NodeConfig, logger: Logger): HttpApi {
  const others = config.nodes.filter((other) => other.id !== node.id);
  const nodes = [node, ...others].map((each) => ({ host: each.host, port: each.clientPort }));
  const { clientFrameBytesMax: frameBytesMax, payloadBytesMax } = config.queue;
  const gateway = new ConnectionGateway({ nodes, frameBytesMax, payloadBytesMax });
  return createHttpApi({ gateway, payloadBytesMax, frameBytesMax, logger });
}
