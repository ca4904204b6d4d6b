/**
 * What a ClusterConnection knows while it looks for the leader past a silent node: the nodes it
 * found silent (skipped, see silent-nodes.ts), whether a leader probe is under way (one at a time),
 * its probe counts, and the probes' sockets, all closed by `close()` so that a closed client leaves
 * none open behind it.
 *
 * Invariants: at most one probe at a time through `probeOnce`; after `close()` no probe opens a
 * connection, and those open are closed.
 *
 * Runs on: any thread of a client process.
 */
import { ClientClosedError, UnavailableError } from './errors.js';
import { probeLeader, type ProbedLeader, type ProbedNode } from './leader-probe.js';
import type { ProtocolConnection } from './protocol-connection.js';
import { SilentNodes } from './silent-nodes.js';
import { withinBound } from './within-bound.js';

type Reply = Record<string, unknown> & { readonly id: number };

/** The longest `leaderWaitMs` a node takes (docs/protocol.md, hello). */
const leaderWaitMsMax = 10_000;

export interface LeaderSearchOptions {
  readonly nodes: readonly ProbedNode[];
  readonly token?: string;
  readonly clientName?: string;
  readonly frameBytesMax?: number;
  /** The attempt bound: how long a hello is awaited, and a node found silent skipped. */
  readonly attemptBoundMs: number;
  /** Silence that makes a probe (`leaderProbeMs`). */
  readonly probeMs: number;
}

export class LeaderSearch {
  /** Leader probes made, and those that moved the calls to another node: for the caller's figures and tests. */
  probes = 0;
  probeMoves = 0;
  private probing = false;
  private readonly silent = new SilentNodes();
  private readonly stop = new AbortController();

  constructor(private readonly options: LeaderSearchOptions) {}

  /** `address` (node `nodeId`, when known) answered nothing in time: skipped for one attempt bound. */
  suspect(address: string, nodeId: string | undefined): void {
    this.silent.suspect(address, nodeId, this.options.attemptBoundMs);
  }

  suspected(node: ProbedNode, nodeId?: string): boolean {
    return this.silent.addressSuspected(`${node.host}:${node.port}`) || (nodeId !== undefined && this.silent.nodeSuspected(nodeId));
  }

  /** A leader probe (leader-probe.ts) of the nodes but `silentAddress` and those found silent, believing
   *  none that is `silentId` or was found silent. Each node may hold its answer until it leads, for
   *  half the attempt bound (long enough for an election), and must answer within two probe periods after. */
  whoLeads(silentAddress: string, silentId: string | undefined): Promise<ProbedLeader | undefined> {
    const { token, clientName, frameBytesMax } = this.options;
    const boundMs = 2 * this.options.probeMs;
    const leaderWaitMs = Math.min(leaderWaitMsMax, Math.floor(this.options.attemptBoundMs / 2));
    const nodes = this.options.nodes.filter((node) => `${node.host}:${node.port}` !== silentAddress && !this.suspected(node));
    const believable = (nodeId: string): boolean => nodeId !== silentId && !this.silent.nodeSuspected(nodeId);
    return probeLeader({
      nodes, boundMs, leaderWaitMs, believable, signal: this.stop.signal, ...(token === undefined ? {} : { token }),
      ...(clientName === undefined ? {} : { clientName }), ...(frameBytesMax === undefined ? {} : { frameBytesMax }),
    }).then((leader) => {
      this.probes += 1;
      return leader;
    });
  }

  /** `whoLeads`, unless a probe made this way is still under way (then nothing happens). */
  probeOnce(silentAddress: string, silentId: string | undefined, then: (leader: ProbedLeader | undefined) => void): void {
    if (this.probing) return;
    this.probing = true;
    void this.whoLeads(silentAddress, silentId).then((leader) => {
      this.probing = false;
      then(leader);
    });
  }

  /**
   * The hello's answer within the attempt bound. A paused node accepts connections (its kernel
   * does) and answers nothing: after `probeMs` of silence the other nodes are asked who leads, and
   * one that does ends the wait with UNAVAILABLE (`sent: false`) naming it, so the next attempt
   * goes there.
   */
  async helloAnswer(connection: ProtocolConnection, answer: Promise<Reply>): Promise<Reply> {
    const { attemptBoundMs: boundMs, probeMs } = this.options;
    const endMs = Date.now() + boundMs;
    for (;;) {
      const early = await withinBound(answer, Math.max(0, Math.min(probeMs, endMs - Date.now())), () => undefined);
      if (early !== undefined) return early;
      if (this.stop.signal.aborted) throw new ClientClosedError('the connection to the cluster was closed while connecting', { sent: false });
      const probe = this.whoLeads(connection.address, undefined).then((leader) => ({ leader }));
      const first = Date.now() >= endMs ? undefined
        : await withinBound(Promise.race([answer.then((reply) => ({ reply })), probe]), Math.max(0, endMs - Date.now()), () => undefined);
      if (first === undefined) {
        this.suspect(connection.address, undefined);
        throw new UnavailableError(`no answer to hello from ${connection.address} within ${boundMs} ms`, { sent: false });
      }
      if ('reply' in first) return first.reply;
      if (first.leader === undefined) continue;
      this.suspect(connection.address, undefined);
      this.probeMoves += 1;
      const { host, port, nodeId } = first.leader;
      throw new UnavailableError(`no answer to hello from ${connection.address} within ${probeMs} ms, and ${host}:${port} says it leads`, {
        sent: false, leader: { id: nodeId, host, clientPort: port },
      });
    }
  }

  /** Ends every probe: their connections close, and they resolve with no leader. */
  close(): void {
    this.stop.abort();
  }
}
