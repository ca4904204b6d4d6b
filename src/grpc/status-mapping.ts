/**
 * The gRPC status a client-protocol error becomes (docs/grpc.md has the same table), and the
 * metadata that goes with it: `falcon-error-code` always (the protocol's own code, so a caller can
 * tell PAYLOAD_TOO_LARGE from another INVALID_ARGUMENT), and with NOT_LEADER the leader's gRPC
 * address (`falcon-leader`, host:grpcPort from the cluster file) and node id (`falcon-leader-id`).
 *
 * Invariant: every protocol code maps to exactly one status; a code this table does not know is
 * UNKNOWN (a newer node's code: a failure of that request).
 *
 * Runs on: supervisor (main thread).
 */
import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import type { ClusterConfig } from '../config/cluster-config.js';

/** The protocol's error codes and their gRPC statuses. */
export const statusByProtocolCode: Readonly<Record<string, grpcStatus>> = {
  INVALID_ARGUMENT: grpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: grpcStatus.NOT_FOUND,
  // The node did nothing; the leader (in the metadata, when known) takes the call.
  NOT_LEADER: grpcStatus.UNAVAILABLE,
  // The outcome is unknown; the protocol says to retry with the same identity.
  UNAVAILABLE: grpcStatus.UNAVAILABLE,
  RESOURCE_EXHAUSTED: grpcStatus.RESOURCE_EXHAUSTED,
  // The caller's lease is gone: retrying the same call can never succeed.
  LEASE_LOST: grpcStatus.FAILED_PRECONDITION,
  // The gateway checks its frames against the same bound before sending, so these two mean a
  // request too large for the cluster, or a gateway fault.
  FRAME_TOO_LARGE: grpcStatus.RESOURCE_EXHAUSTED,
  MALFORMED_FRAME: grpcStatus.INTERNAL,
  // Too large whatever the cluster's state: retrying cannot help, so not RESOURCE_EXHAUSTED.
  PAYLOAD_TOO_LARGE: grpcStatus.INVALID_ARGUMENT,
  FAILED_PRECONDITION: grpcStatus.FAILED_PRECONDITION,
  // The gateway always speaks the node's own protocol version.
  UNSUPPORTED_VERSION: grpcStatus.INTERNAL,
  UNAUTHENTICATED: grpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: grpcStatus.PERMISSION_DENIED,
  // docs/protocol.md: an unforeseen node failure; treat it as UNAVAILABLE.
  INTERNAL: grpcStatus.UNAVAILABLE,
};

/** A protocol error as the gateway received it. */
export interface ProtocolFailure {
  readonly code: string;
  readonly message: string;
  readonly leader?: { readonly id: string } | undefined;
}

/** What a call answers instead of a response. */
export interface GrpcFailure {
  readonly code: grpcStatus;
  readonly details: string;
  readonly metadata: Metadata;
}

export const errorCodeKey = 'falcon-error-code';
export const leaderAddressKey = 'falcon-leader';
export const leaderIdKey = 'falcon-leader-id';

/** The gRPC address of node `id`: its host and grpcPort, or undefined when it serves no gRPC. */
export function grpcAddressOf(config: ClusterConfig, id: string): string | undefined {
  const node = config.nodes.find((candidate) => candidate.id === id);
  if (node?.grpcPort === undefined) return undefined;
  // An IPv6 literal needs brackets in a host:port target.
  const host = node.host.includes(':') ? `[${node.host}]` : node.host;
  return `${host}:${node.grpcPort}`;
}

export function toGrpcFailure(failure: ProtocolFailure, config: ClusterConfig): GrpcFailure {
  const metadata = new Metadata();
  metadata.set(errorCodeKey, failure.code);
  if (failure.code === 'NOT_LEADER' && failure.leader !== undefined) {
    metadata.set(leaderIdKey, failure.leader.id);
    const address = grpcAddressOf(config, failure.leader.id);
    if (address !== undefined) metadata.set(leaderAddressKey, address);
  }
  return { code: statusByProtocolCode[failure.code] ?? grpcStatus.UNKNOWN, details: `${failure.code}: ${failure.message}`, metadata };
}
