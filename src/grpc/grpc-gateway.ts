/**
 * The node's gRPC port: FalconQueueService (falcon_queue.proto, docs/grpc.md) served with
 * @grpc/grpc-js (pure JavaScript), as a gateway into the client protocol. Each call becomes one
 * request to THIS node's client port (gateway-connections.ts), with the caller's bearer token in
 * the hello of the connection it goes on; a follower's NOT_LEADER goes back as UNAVAILABLE with
 * the leader's gRPC address (status-mapping.ts). The gateway holds no queue state of its own.
 *
 * Access before fields (docs/protocol.md §3): a call without a token on a cluster that lists
 * tokens, or whose token's connection had its hello refused, is UNAUTHENTICATED before the call's
 * fields are read; an open connection for the token costs nothing more.
 *
 * Invariants:
 * - A caller's bytes never throw past a handler: grpc-js answers what it cannot decode, the
 *   handlers answer a status for everything else, and an unexpected fault answers INTERNAL (and is
 *   logged) instead of ending the process.
 * - A message is at most the cluster's client frame bound (queue.clientFrameBytesMax) either way.
 *   A protobuf message is never longer than the MessagePack map of the same fields (one-byte tags
 *   instead of key strings), so every reply the node fits in a frame fits in a gRPC message.
 *
 * Runs on: supervisor (main thread), next to the ops port.
 */
import { Server, ServerCredentials, setLogger, status as grpcStatus, type Metadata, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import { listenHostOf } from '../config/listen-addresses.js';
import type { Logger } from '../logging/logger.js';
import { readBearerCredential, type BearerCredential } from '../protocol/bearer-credential.js';
import { GatewayConnections, callMsDefault } from './gateway-connections.js';
import { loadServiceDefinition } from './proto-definition.js';
import { runServiceCall, serviceCalls, type GrpcRequest, type ServiceCall } from './service-calls.js';
import { toGrpcFailure, type ProtocolFailure } from './status-mapping.js';

/** Distinct bearer tokens served at once, each with its own connection to the client port: far
 *  more than a cluster lists, far fewer than the node's clientConnectionsMax. */
export const gatewayConnectionsMax = 64;

/** Calls in flight on one HTTP/2 connection of a caller: a bound on what one caller can park on
 *  the node (each call is at most one long poll). */
export const concurrentStreamsMax = 1_000;

/** How long a stop waits for calls in flight before it cuts them off. */
const shutdownGraceMs = 1_000;

export interface GrpcGatewayOptions {
  readonly config: ClusterConfig;
  readonly node: NodeConfig & { readonly grpcPort: number };
  readonly logger: Logger;
}

/** The address the gRPC port binds: `listen.grpc` when the node sets it, else its host. */
export function grpcListenHost(node: NodeConfig): string {
  return listenHostOf(node, 'grpc');
}

export class GrpcGateway {
  private readonly server: Server;
  private readonly connections: GatewayConnections;
  private readonly options: GrpcGatewayOptions;

  constructor(options: GrpcGatewayOptions) {
    this.options = options;
    // grpc-js writes its own diagnostics to the console; they go to the node's log instead, as
    // JSON lines like every other (grpc-js has one logger per process, and one gateway per node).
    const grpcLibraryLogger = options.logger.child({ source: 'grpc-js' });
    const write = (...args: unknown[]): void => grpcLibraryLogger.warn(args.map(String).join(' '));
    setLogger({ error: write, info: write, debug: write });
    const frameBytesMax = options.config.queue.clientFrameBytesMax;
    this.connections = new GatewayConnections({
      host: options.node.host, clientPort: options.node.clientPort, frameBytesMax,
      connectionsMax: gatewayConnectionsMax, clientName: `grpc-gateway-${options.node.id}`,
    });
    this.server = new Server({
      'grpc.max_receive_message_length': frameBytesMax,
      'grpc.max_send_message_length': frameBytesMax,
      'grpc.max_concurrent_streams': concurrentStreamsMax,
    });
    const implementation: UntypedServiceImplementation = {};
    for (const [method, call] of Object.entries(serviceCalls)) implementation[method] = this.handlerFor(method, call);
    this.server.addService(loadServiceDefinition(), implementation);
  }

  /** Binds host:grpcPort; resolves with the bound port, rejects with the bind error. */
  listen(): Promise<number> {
    const host = grpcListenHost(this.options.node);
    const target = `${host.includes(':') ? `[${host}]` : host}:${this.options.node.grpcPort}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(target, ServerCredentials.createInsecure(), (error, port) => {
        if (error !== null) reject(error);
        else resolve(port);
      });
    });
  }

  /** Stops taking calls, lets those in flight end for a short grace, then cuts them off. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, shutdownGraceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
      // Calls waiting on the node (long polls) end now, with UNAVAILABLE.
      this.connections.close();
    });
  }

  private handlerFor(method: string, call: ServiceCall) {
    return (unary: ServerUnaryCall<GrpcRequest, object>, callback: sendUnaryData<object>): void => {
      this.serve(unary, call).then(
        (answer) => callback(answer.error, answer.response),
        (error: unknown) => {
          this.options.logger.error({ err: error, method }, 'gRPC call failed in the gateway');
          callback({ code: grpcStatus.INTERNAL, details: `the gateway failed: ${String(error)}` }, null);
        },
      );
    };
  }

  private async serve(unary: ServerUnaryCall<GrpcRequest, object>, call: ServiceCall): Promise<{ error: GrpcCallError | null; response: object | null }> {
    const caller = bearerToken(unary.metadata);
    if (!caller.ok) {
      const failure = toGrpcFailure({ code: 'UNAUTHENTICATED', message: caller.message }, this.options.config);
      return { error: failure, response: null };
    }
    // Access before the request's fields are judged (docs/protocol.md §3).
    const refusal = await this.accessRefusal(caller.token, callBoundMs(unary.getDeadline(), {}));
    const request = (typeof unary.request === 'object' && unary.request !== null ? unary.request : {}) as GrpcRequest;
    const outcome = refusal ?? await runServiceCall(call, request, (body) => this.connections.request(caller.token, body, callBoundMs(unary.getDeadline(), body)));
    if (outcome.ok) return { error: null, response: outcome.response };
    // The node's words ask for hello's token field: a gRPC caller sends metadata instead.
    const failure = caller.token === undefined && outcome.failure.code === 'UNAUTHENTICATED' ? { ...outcome.failure, message: tokenNeededMessage } : outcome.failure;
    return { error: toGrpcFailure(failure, this.options.config), response: null };
  }

  /** See AccessRefusal. An open connection for the token costs nothing. Whether a caller without a
   *  token may call is the node's answer to the hello (`access: 'none'`: it lists tokens), never
   *  this gateway's reading of cluster.yaml. */
  private async accessRefusal(token: string | undefined, boundMs: number | undefined): Promise<AccessRefusal> {
    try {
      const access = await this.connections.admit(token, boundMs);
      if (token === undefined && access === 'none') return { ok: false, failure: { code: 'UNAUTHENTICATED', message: tokenNeededMessage } };
      return undefined;
    } catch (error) {
      const failure = error as Partial<ProtocolFailure>;
      if (typeof failure.code === 'string' && typeof failure.message === 'string') return { ok: false, failure: failure as ProtocolFailure };
      throw error;
    }
  }
}

/** Why a call is refused before its fields are read: no token on a cluster that lists tokens, or
 *  a token (or a node) that refused the hello of its connection; undefined when admitted. */
export type AccessRefusal = { readonly ok: false; readonly failure: ProtocolFailure } | undefined;

interface GrpcCallError {
  readonly code: grpcStatus;
  readonly details: string;
  readonly metadata: Metadata;
}

/** How long the gateway waits for the node's answer to a call: until the gRPC call's deadline,
 *  else the gateway's default (undefined; gateway-connections.ts). */
function callBoundMs(deadline: Date | number, body: Readonly<Record<string, unknown>>): number | undefined {
  const deadlineAt = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(deadlineAt)) return undefined;
  const waitMs = typeof body['waitMs'] === 'number' ? body['waitMs'] : 0;
  return Math.min(Math.max(0, deadlineAt - Date.now()), callMsDefault + waitMs);
}

/** The refusal of a call without a token. HTTP/2 (RFC 9113 §8.2.1) does not carry a field value that
 *  begins or ends with whitespace: `'Bearer <token> '` arrives as no metadata at all, hence the hint. */
export const tokenNeededMessage = "this cluster needs a bearer token and this call carries none: send metadata 'authorization: Bearer <token>' "
  + '(with no space or tab before or after the value: HTTP/2 drops such a value, and the call arrives without it)';

/** The caller's token from `authorization: Bearer <token>`, by the rule HTTP follows too
 *  (protocol/bearer-credential.ts): undefined without the metadata; not ok when it is there twice,
 *  is not a bearer token, or holds one longer than any listed token. */
export function bearerToken(metadata: Metadata): BearerCredential {
  return readBearerCredential(metadata.get('authorization'), 'authorization metadata');
}
