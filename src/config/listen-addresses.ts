/**
 * Where a node listens, port by port. A node's `host` is where peers and clients connect to it;
 * the address each of its ports binds is `listen.<port>` when the node sets one, else `host`. So a
 * local cluster (host 127.0.0.1) stays on loopback, and a node behind a NAT or in a container can
 * bind `0.0.0.0` while peers keep dialing its public `host`.
 *
 * Invariants: every socket a node binds takes its address from `listenHostOf`, and nothing else
 * (run-node.ts for the ops port, the Dispatcher's client server, the peer transport, and the gRPC
 * server for `grpc`). A listen address may be a wildcard; `host` never is (nobody can dial 0.0.0.0).
 *
 * Runs on: every thread that binds a port (pure data, no I/O).
 */

import { z } from 'zod';
import type { NodeConfig } from './cluster-config.js';
import { isListenHost, mapping, ruleMessage } from './schema-rules.js';

/** The ports of a node, by the key `listen` names them with. */
export const listenPorts = ['peer', 'client', 'ops', 'grpc'] as const;
export type ListenPort = (typeof listenPorts)[number];

function listenHost() {
  return z.string({ error: ruleMessage('an IP address or host name to listen on (0.0.0.0 or :: for every interface)') })
    .refine(isListenHost)
    .optional();
}

export const listenShape = {
  /** Raft traffic between nodes (peerPort). */
  peer: listenHost(),
  /** Producers and workers (clientPort). */
  client: listenHost(),
  /** /healthz, /readyz, /metrics, /status and the HTTP API (opsPort). */
  ops: listenHost(),
  /** The gRPC service (grpcPort, when the node has one). */
  grpc: listenHost(),
};

export const listenFields = mapping(listenShape, `listen addresses (${listenPorts.join(', ')})`);

/** The address `node` binds `port` on: its `listen` entry for that port, else its `host`. */
export function listenHostOf(node: Pick<NodeConfig, 'host' | 'listen'>, port: ListenPort): string {
  return node.listen?.[port] ?? node.host;
}
