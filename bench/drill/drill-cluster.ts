/**
 * The drill's cluster: three `falcon-node` processes on loopback, each with a fresh data directory
 * under a temp folder and its own cluster file whose peer ports lead through the fault network
 * (src/faults/), started, killed, paused and stopped by PID; and a poller that reads every node's
 * `/status` every `pollIntervalMs` and records what it saw (term, role, leader) in the history.
 *
 * Invariants: every wait is bounded and answers false (or throws with what it last saw) when its
 * bound passes; a node process is started only when its previous one has exited (one process per
 * data directory); `close()` kills every node it started, closes the proxies and removes the temp
 * folder.
 *
 * Runs on: the drill runner's process.
 */
import { join } from 'node:path';
import { startFaultNetwork, type FaultNetwork } from '../../src/faults/fault-network.js';
import { createTestCluster, falconNodeEntry, removeTestCluster, startProcess, writeNodeConfigFiles, type StartedProcess, type TestCluster } from '../../test/support/test-cluster.js';
import type { DrillHistory, NodeRole } from './history.js';

/** How often each node's /status is read (the granularity of the election figures). */
export const pollIntervalMs = 50;
/** A /status answer slower than this counts as no answer (a paused node never answers). */
const pollTimeoutMs = 400;

/**
 * The drill's cluster file settings. A worker that stops beating loses its leases after
 * `workerTtlMs` (3 s, so the seed's 5 s rebalance bar can be met with the TTL's jitter); completed
 * jobs are kept readable for the whole drill, so the final state names every job.
 */
const drillClusterYaml = [
  'queue:',
  '  workerTtlMs: 3000',
  '  workerTtlJitterMs: 500',
  '  completedPerQueueMax: 10000000',
  '',
].join('\n');

export interface NodeView {
  readonly atMs: number;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly appliedHash: number;
  readonly catchingUp: boolean;
}

interface StatusAnswer {
  readonly raft: { role: string; term: number; leader: string | null; commit: number; catchingUp?: boolean } | null;
  readonly applied: { index: number; hash: number } | null;
}

const roles: Readonly<Record<string, NodeRole>> = { leader: 'leader', follower: 'follower', candidate: 'candidate', preCandidate: 'candidate' };

export class DrillCluster {
  readonly cluster: TestCluster;
  readonly network: FaultNetwork;
  readonly ids: readonly string[];
  private readonly history: DrillHistory;
  private readonly processes = new Map<string, StartedProcess>();
  /** The latest answer of each node, and when it answered. */
  private readonly views = new Map<string, NodeView>();
  private readonly polling = new Set<string>();
  private poller: NodeJS.Timeout | undefined;

  private constructor(cluster: TestCluster, network: FaultNetwork, history: DrillHistory) {
    this.cluster = cluster;
    this.network = network;
    this.ids = cluster.nodes.map((node) => node.id);
    this.history = history;
  }

  static async create(seed: number, history: DrillHistory): Promise<DrillCluster> {
    const shared = await createTestCluster({ logLevel: 'warn', extraYaml: drillClusterYaml });
    const network = await startFaultNetwork({ nodes: shared.nodes, seed });
    const cluster = await writeNodeConfigFiles(shared, (viewer, peer) => network.peerPortSeenBy(viewer, peer));
    return new DrillCluster(cluster, network, history);
  }

  get clientPorts(): number[] {
    return this.cluster.nodes.map((node) => node.clientPort);
  }

  walDir(id: string): string {
    return join(this.cluster.dir, 'data', id, 'wal');
  }

  start(id: string, options: { repairCorruption?: boolean } = {}): StartedProcess {
    const previous = this.processes.get(id);
    if (previous !== undefined && this.isRunning(id)) throw new Error(`node ${id} is still running (pid ${previous.child.pid ?? '?'})`);
    const configPath = this.cluster.nodeConfigPaths?.[id] ?? this.cluster.configPath;
    const started = startProcess([falconNodeEntry, '--config', configPath, '--node', id, '--log-format', 'json',
      ...(options.repairCorruption === true ? ['--repair-corruption'] : [])]);
    this.processes.set(id, started);
    this.views.delete(id);
    return started;
  }

  startAll(): void {
    for (const id of this.ids) this.start(id);
  }

  isRunning(id: string): boolean {
    const child = this.processes.get(id)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  process(id: string): StartedProcess | undefined {
    return this.processes.get(id);
  }

  async kill9(id: string): Promise<void> {
    const started = this.processes.get(id);
    if (started === undefined || !this.isRunning(id)) return;
    started.child.kill('SIGCONT');
    started.child.kill('SIGKILL');
    await started.exited;
    this.views.delete(id);
  }

  signal(id: string, signal: 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): void {
    if (this.isRunning(id)) this.processes.get(id)?.child.kill(signal);
  }

  /** Waits for the node's exit; its code or signal, or null when it did not exit within `timeoutMs`. */
  async exitOf(id: string, timeoutMs: number): Promise<number | string | null> {
    const started = this.processes.get(id);
    if (started === undefined) return null;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); });
    try {
      return await Promise.race([started.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The node's latest /status answer, if it answered within the last `freshMs`. */
  view(id: string, freshMs = 500): NodeView | undefined {
    const view = this.views.get(id);
    return view !== undefined && Date.now() - view.atMs <= freshMs ? view : undefined;
  }

  /** The leader every running node agrees on (each answering, the leader leading), or undefined. */
  agreedLeader(): string | undefined {
    const running = this.ids.filter((id) => this.isRunning(id));
    const views = running.map((id) => this.view(id));
    const leader = views.find((view) => view?.role === 'leader');
    if (leader === undefined) return undefined;
    const leaderId = running[views.indexOf(leader)];
    return views.every((view) => view !== undefined && view.leader === leaderId && view.term === leader.term) ? leaderId : undefined;
  }

  /** The node that says it leads in the highest term seen now, if any. */
  currentLeader(): string | undefined {
    let best: { id: string; term: number } | undefined;
    for (const id of this.ids) {
      const view = this.view(id);
      if (view?.role === 'leader' && (best === undefined || view.term > best.term)) best = { id, term: view.term };
    }
    return best?.id;
  }

  /** Polls (at the poller's pace) until `accept` answers a value, or `timeoutMs` passes (undefined). */
  async until<T>(accept: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = accept();
      if (value !== undefined) return value;
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
    }
  }

  /** Every node running and answering, one leader agreed by all, none catching up: the calm state between faults. */
  async settled(timeoutMs: number): Promise<string | undefined> {
    return this.until(() => {
      if (!this.ids.every((id) => this.isRunning(id) && this.view(id)?.catchingUp === false)) return undefined;
      return this.agreedLeader();
    }, timeoutMs);
  }

  /** What each node last said, for a message. */
  describe(): string {
    return this.ids.map((id) => {
      const view = this.views.get(id);
      const state = this.isRunning(id) ? 'running' : `exited ${String(this.processes.get(id)?.child.exitCode ?? this.processes.get(id)?.child.signalCode ?? '-')}`;
      return `${id} (${state}): ${view === undefined ? 'no answer' : `${view.role} term ${view.term} leader ${view.leader ?? '-'} commit ${view.commit} applied ${view.applied}` +
        `${view.catchingUp ? ' catching up' : ''}, ${Date.now() - view.atMs} ms ago`}`;
    }).join('; ');
  }

  /** The last `lines` lines of a node's output (its log), for a report. */
  logTail(id: string, lines = 20): string {
    return (this.processes.get(id)?.output() ?? '').split('\n').slice(-lines).join('\n');
  }

  startPolling(): void {
    this.poller = setInterval(() => { for (const id of this.ids) void this.poll(id); }, pollIntervalMs);
  }

  stopPolling(): void {
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
  }

  private async poll(id: string): Promise<void> {
    if (this.polling.has(id) || !this.isRunning(id)) return;
    this.polling.add(id);
    try {
      const port = this.cluster.nodes.find((node) => node.id === id)?.opsPort;
      const response = await fetch(`http://127.0.0.1:${port ?? 0}/status`, { signal: AbortSignal.timeout(pollTimeoutMs) });
      const status = await response.json() as StatusAnswer;
      const atMs = Date.now();
      if (status.raft === null || status.applied === null) return;
      const raft = status.raft;
      this.views.set(id, { atMs, role: raft.role, term: raft.term, leader: raft.leader, commit: raft.commit, applied: status.applied.index,
        appliedHash: status.applied.hash, catchingUp: raft.catchingUp === true });
      this.history.recordObservation({ atMs, node: id, term: raft.term, role: roles[raft.role] ?? 'unknown', leader: raft.leader, commit: raft.commit });
    } catch {
      // No answer in time: the node is down, paused or busy; the next poll tries again.
    } finally {
      this.polling.delete(id);
    }
  }

  async close(): Promise<void> {
    this.stopPolling();
    for (const id of this.ids) this.signal(id, 'SIGCONT');
    await removeTestCluster(this.cluster);
    await this.network.close();
  }
}
