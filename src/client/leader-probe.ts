/**
 * Asks the other nodes who leads, for a ClusterConnection whose node went silent with requests
 * waiting on it. A paused leader (SIGSTOP, a long stall) and a leader cut off from its peers keep
 * the client's connection open and answer nothing; its followers elect a new leader within an
 * election timeout or two, but the client would learn of it only at its attempt bound (2 s). The
 * probe opens a short connection to each other node, sends `hello` (with the client's token, no
 * producer id: it opens no session), and resolves with the first node that answers that it leads
 * itself (`leader` equals its own `node`), or undefined when none does within the bound. With
 * `leaderWaitMs`, a node that does not lead holds its answer until it leads or the wait is over
 * (docs/protocol.md, hello): the node that wins the election answers at that moment, and one probe
 * spans the election instead of one probe after another through it. Once a node says it leads, the
 * other connections close.
 *
 * Only a node that says it leads is believed: a follower may still name the silent node, or name a
 * leader it has not heard from since. The caller says which node ids it will not believe
 * (`believable`): the silent node itself, which the list may hold under another spelling of its
 * address, and the nodes it found silent just before. An old leader cut off from its peers says it
 * leads until check-quorum steps it down; believed again, it would take the calls back from the new
 * leader as soon as that one is slow once, and the calls would move to and fro, resent each time.
 * A node that wrongly says it leads costs a redirect, never a lost request: what the client resends
 * is idempotent or refused as before.
 *
 * Runs on: any thread of a client process.
 */
import { ProtocolConnection } from './protocol-connection.js';
import { withinBound } from './within-bound.js';

export interface ProbedNode {
  readonly host: string;
  readonly port: number;
}

export interface LeaderProbeOptions {
  /** The nodes to ask (the silent one left out). */
  readonly nodes: readonly ProbedNode[];
  /** Bound on each node's connect, and on its answer beyond `leaderWaitMs`. */
  readonly boundMs: number;
  /** How long each node may hold its answer until it leads (hello's `leaderWaitMs`; default 0: at once). */
  readonly leaderWaitMs?: number;
  readonly token?: string;
  readonly clientName?: string;
  readonly frameBytesMax?: number;
  /** Whether a node (by the id its hello names) that says it leads is believed (default: all are). */
  readonly believable?: (nodeId: string) => boolean;
  /** Ends the probe: its connections close at once, and it resolves with no leader. */
  readonly signal?: AbortSignal;
}

/** A node that says it leads, and the id its hello gave. */
export interface ProbedLeader extends ProbedNode {
  readonly nodeId: string;
}

/** The first of `nodes` that says it leads and is believable, or undefined when none does within the
 *  bound; the other nodes' connections close as soon as one does. */
export function probeLeader(options: LeaderProbeOptions): Promise<ProbedLeader | undefined> {
  const done = new AbortController();
  const signal = options.signal === undefined ? done.signal : AbortSignal.any([options.signal, done.signal]);
  return new Promise((resolve) => {
    let unanswered = options.nodes.length;
    if (unanswered === 0) resolve(undefined);
    for (const node of options.nodes) {
      void askNode(node, { ...options, signal }).then((leaderId) => {
        unanswered -= 1;
        if (leaderId !== undefined && (options.believable?.(leaderId) ?? true)) {
          resolve({ host: node.host, port: node.port, nodeId: leaderId });
          done.abort();
        } else if (unanswered === 0) {
          resolve(undefined);
        }
      });
    }
  });
}

/** The node's id when `node` answers hello saying it leads; undefined otherwise, and on any failure. */
async function askNode(node: ProbedNode, options: LeaderProbeOptions): Promise<string | undefined> {
  let connection: ProtocolConnection | undefined;
  const { signal } = options;
  const onAbort = (): void => connection?.close('the client was closed');
  const stopped = (): boolean => signal?.aborted === true;
  try {
    if (stopped()) return undefined;
    connection = await ProtocolConnection.open({
      host: node.host, port: node.port, connectTimeoutMs: options.boundMs,
      ...(options.frameBytesMax === undefined ? {} : { frameBytesMax: options.frameBytesMax }),
    });
    if (stopped()) return undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    const hello = await withinBound(connection.request({
      type: 'hello', protocol: 1,
      ...(options.clientName === undefined ? {} : { client: options.clientName }),
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.leaderWaitMs === undefined ? {} : { leaderWaitMs: options.leaderWaitMs }),
    }), options.boundMs + (options.leaderWaitMs ?? 0), () => undefined);
    const nodeId = hello?.['node'];
    return typeof nodeId === 'string' && hello?.['leader'] === nodeId ? nodeId : undefined;
  } catch {
    return undefined;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    connection?.close('the leader probe is done');
  }
}
