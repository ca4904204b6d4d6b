/**
 * Real `falcon-node` processes of a test cluster, one per node, started and killed by PID, with
 * their Raft view read from /status. Waits poll the ops port (the only signal another process
 * gives) and are bounded, failing with what they last saw.
 *
 * Runs on: test process.
 */
import {
  createTestCluster, falconNodeEntry, removeTestCluster, startProcess, type StartedProcess, type TestCluster, type TestClusterOptions, type TestNode,
} from './test-cluster.js';

export interface RaftView {
  readonly node: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly appliedIndex: number;
  readonly appliedHash: number;
  readonly snapshotsInstalled: number;
  /** Set while the node may not vote or lead until a leader caught it up. */
  readonly catchingUp?: boolean;
}

export interface LoadOptions {
  readonly payloadBytes?: number;
  /** Proposals outstanding at once. */
  readonly inflight?: number;
  /** The generator's own bound on the whole run. */
  readonly timeoutMs?: number;
}

export interface LoadResult {
  readonly ok: boolean;
  readonly committed: number;
  readonly lastIndex: number;
  readonly entriesPerSecond: number;
  readonly error?: string;
}

export class ClusterNodes {
  readonly cluster: TestCluster;
  private readonly processes = new Map<string, StartedProcess>();

  constructor(cluster: TestCluster) {
    this.cluster = cluster;
  }

  start(id: string): StartedProcess {
    const configPath = this.cluster.nodeConfigPaths?.[id] ?? this.cluster.configPath;
    const started = startProcess([falconNodeEntry, '--config', configPath, '--node', id, '--test-hooks', '--log-format', 'json']);
    this.processes.set(id, started);
    return started;
  }

  startAll(): void {
    for (const node of this.cluster.nodes) this.start(node.id);
  }

  process(id: string): StartedProcess {
    const started = this.processes.get(id);
    if (started === undefined) throw new Error(`node ${id} was not started`);
    return started;
  }

  async kill9(id: string): Promise<void> {
    const started = this.process(id);
    started.child.kill('SIGKILL');
    await started.exited;
  }

  signal(id: string, signal: 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): void {
    this.process(id).child.kill(signal);
  }

  opsUrl(id: string): string {
    return `http://127.0.0.1:${this.node(id).opsPort}`;
  }

  node(id: string): TestNode {
    const node = this.cluster.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** The node's Raft view, or undefined when it does not answer within 1 s. */
  async view(id: string): Promise<RaftView | undefined> {
    try {
      const response = await fetch(`${this.opsUrl(id)}/status`, { signal: AbortSignal.timeout(1_000) });
      const status = await response.json() as {
        node: string; raft: { role: string; term: number; leader: string | null; commit: number } | null;
        applied: { index: number; hash: number } | null; snapshot: { installedFromLeader: number } | null;
      };
      if (status.raft === null || status.applied === null) return undefined;
      return { node: status.node, ...status.raft, appliedIndex: status.applied.index, appliedHash: status.applied.hash, snapshotsInstalled: status.snapshot?.installedFromLeader ?? 0 };
    } catch {
      return undefined;
    }
  }

  async views(ids: readonly string[]): Promise<Array<RaftView | undefined>> {
    return Promise.all(ids.map((id) => this.view(id)));
  }

  /** Polls until `accept` holds for the views of `ids`; fails after `timeoutMs` with the last views. */
  async until<T>(ids: readonly string[], accept: (views: Array<RaftView | undefined>) => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: Array<RaftView | undefined> = [];
    while (Date.now() < deadline) {
      last = await this.views(ids);
      const accepted = accept(last);
      if (accepted !== undefined) return accepted;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${what}: not reached within ${timeoutMs} ms; last views: ${JSON.stringify(last)}\n${this.logsTail()}`);
  }

  /** The leader that every one of `ids` agrees on (each answering), with the leader itself leading. */
  leaderAgreedBy(ids: readonly string[], timeoutMs = 15_000): Promise<RaftView> {
    return this.until(ids, (views) => {
      const leader = views.find((view) => view?.role === 'leader');
      if (leader === undefined) return undefined;
      return views.every((view) => view !== undefined && view.leader === leader.node && view.term === leader.term) ? leader : undefined;
    }, `a leader agreed by ${ids.join(', ')}`, timeoutMs);
  }

  /** Every one of `ids` applied the same index with the same hash, at least `index`. */
  converged(ids: readonly string[], index: number, timeoutMs = 15_000): Promise<RaftView> {
    return this.until(ids, (views) => {
      const first = views[0];
      if (first === undefined || first.appliedIndex < index) return undefined;
      return views.every((view) => view !== undefined && view.appliedIndex === first.appliedIndex && view.appliedHash === first.appliedHash) ? first : undefined;
    }, `${ids.join(', ')} applied the same entries up to at least ${index}`, timeoutMs);
  }

  /** Every one of `ids` reports a live connection to every other node. */
  async allLinksUp(ids: readonly string[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const links = await Promise.all(ids.map(async (id) => {
        try {
          const status = await (await fetch(`${this.opsUrl(id)}/status`, { signal: AbortSignal.timeout(1_000) })).json() as {
            actors: { replicator?: { reported?: { role?: { transport?: Record<string, { connected: boolean }> } } | null } };
          };
          return status.actors.replicator?.reported?.role?.transport ?? {};
        } catch {
          return {};
        }
      }));
      last = JSON.stringify(links.map((transport) => Object.fromEntries(Object.entries(transport).map(([peer, stats]) => [peer, stats.connected]))));
      if (links.every((transport) => ids.every((peer) => transport[peer] === undefined || transport[peer].connected) && Object.keys(transport).length === this.cluster.nodes.length - 1)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`peer links of ${ids.join(', ')} not all up within ${timeoutMs} ms: ${last}`);
  }

  /**
   * Runs the Replicator's bounded load generator on `id` (which must lead): `entries` entries,
   * `batch` per proposal, 100-byte payloads and 16 proposals in flight unless `options` says otherwise.
   */
  async load(id: string, entries: number, batch: number, options: LoadOptions = {}): Promise<LoadResult> {
    const { payloadBytes = 100, inflight = 16, timeoutMs = 20_000 } = options;
    const response = await fetch(`${this.opsUrl(id)}/debug/raft-load`, {
      method: 'POST', body: JSON.stringify({ entries, batch, payloadBytes, inflight, timeoutMs }),
      signal: AbortSignal.timeout(timeoutMs + 10_000),
    });
    return await response.json() as LoadResult;
  }

  /**
   * Per actor of node `id`: its state and how many times the supervisor restarted it, from
   * /status. Undefined when the node does not answer within 1 s.
   */
  async actorRestarts(id: string): Promise<Record<string, { state: string; restarts: number; lastFailure: string | null }> | undefined> {
    try {
      const response = await fetch(`${this.opsUrl(id)}/status`, { signal: AbortSignal.timeout(1_000) });
      const status = await response.json() as { actors: Record<string, { state: string; restarts: number; lastFailure: string | null }> };
      return Object.fromEntries(Object.entries(status.actors).map(([actor, { state, restarts, lastFailure }]) => [actor, { state, restarts, lastFailure }]));
    } catch {
      return undefined;
    }
  }

  /**
   * How many sends of `actor` on node `id` found their ring full and waited in the link's backlog,
   * per neighbour (the runtime's `linkBacklogs` in /status). Undefined when the node does not answer.
   */
  async linkSendsQueued(id: string, actor: string): Promise<Record<string, number> | undefined> {
    try {
      const response = await fetch(`${this.opsUrl(id)}/status`, { signal: AbortSignal.timeout(1_000) });
      const status = await response.json() as { actors: Record<string, { reported?: { linkBacklogs?: Record<string, { queuedTotal: number }> } | null }> };
      const backlogs = status.actors[actor]?.reported?.linkBacklogs ?? {};
      return Object.fromEntries(Object.entries(backlogs).map(([neighbour, backlog]) => [neighbour, backlog.queuedTotal]));
    } catch {
      return undefined;
    }
  }

  /** A counter of node `id`'s Replicator (its replica loop's `counters` in /status); undefined when it does not answer. */
  async replicatorCounter(id: string, name: string): Promise<number | undefined> {
    try {
      const response = await fetch(`${this.opsUrl(id)}/status`, { signal: AbortSignal.timeout(1_000) });
      const status = await response.json() as { actors: Record<string, { reported?: { role?: Record<string, unknown> } | null }> };
      const value = status.actors['replicator']?.reported?.role?.[name];
      return typeof value === 'number' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  logsTail(): string {
    return [...this.processes].map(([id, started]) => `--- ${id} (last lines)\n${started.output().split('\n').slice(-15).join('\n')}`).join('\n');
  }
}

/** A fresh cluster per test, as mocha hooks register it: `nodes` is valid inside each test. */
export interface StartedClusterPerTest {
  readonly cluster: TestCluster;
  readonly nodes: ClusterNodes;
}

/**
 * Registers mocha hooks that create a cluster of real processes before each test and start every
 * node; after each test every node is resumed (a test may leave one SIGSTOPped) and the cluster is
 * removed, its processes stopped by PID.
 */
export function startedClusterPerTest(options: TestClusterOptions): StartedClusterPerTest {
  let cluster: TestCluster | undefined;
  let nodes: ClusterNodes | undefined;
  beforeEach(async () => {
    cluster = await createTestCluster(options);
    nodes = new ClusterNodes(cluster);
    nodes.startAll();
  });
  afterEach(async () => {
    if (cluster === undefined || nodes === undefined) return;
    for (const node of cluster.nodes) {
      try { nodes.signal(node.id, 'SIGCONT'); } catch { /* not started or gone */ }
    }
    await removeTestCluster(cluster);
  });
  return {
    get cluster(): TestCluster {
      if (cluster === undefined) throw new Error('the cluster exists only inside a test');
      return cluster;
    },
    get nodes(): ClusterNodes {
      if (nodes === undefined) throw new Error('the cluster exists only inside a test');
      return nodes;
    },
  };
}
