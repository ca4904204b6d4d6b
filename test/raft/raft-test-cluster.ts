/**
 * A hand-driven cluster for scenario tests: each step (tick, deliver, persist) is explicit, so a
 * test reads like a script of the Raft paper's sentences, and `trace` records every message sent
 * in a compact form for interaction-style assertions (an exact expected list of lines).
 *
 * Durability is explicit too: a Ready's write waits in `pendingWrites` until `persist(id)`, and
 * the messages that must wait for it wait with it. `stabilize()` persists and delivers everything
 * until the cluster is quiet (bounded by `stabilizeRoundsMax`). A Ready's `needsCatchUpCleared` is
 * confirmed by the next `persist` (the marker cleared durably), unless the node is in
 * `catchUpClearsHeld`.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { LogEntry } from '../../src/log/log-entry.js';
import { entryTypes } from '../../src/raft/entry-types.js';
import { MemoryLogStorage } from '../../src/raft/memory-log-storage.js';
import type { RaftSettings } from '../../src/raft/raft-config.js';
import type { RaftMessage } from '../../src/raft/raft-messages.js';
import { RaftNode } from '../../src/raft/raft-node.js';
import { SeededRandom } from '../../src/raft/random.js';
import type { ReadState } from '../../src/raft/read-index.js';
import type { Ready } from '../../src/raft/ready.js';

/** Rounds of persist-and-deliver in `stabilize` before the test gives up: a loop means a bug. */
const stabilizeRoundsMax = 1_000;

export const testSettings: Partial<RaftSettings> = {
  electionTimeoutTicksMin: 10,
  electionTimeoutTicksMax: 20,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  campaignOnLeaderDisconnect: true,
  disconnectCampaignDelayTicksMax: 0,
};

export interface StartOptions {
  readonly needsCatchUp?: boolean;
}

interface PendingWrite {
  readonly ready: Ready;
}

export function describeMessage(message: RaftMessage): string {
  const head = `${message.from}->${message.to} ${message.type} t${message.term}`;
  switch (message.type) {
    case 'append':
      return `${head} prev ${message.prevIndex}/${message.prevTerm} entries [${message.entries.map((entry) => `${entry.index}/${entry.term}`).join(' ')}] commit ${message.commit}`;
    case 'appendResponse':
      return message.reject ? `${head} reject ${message.index} hint ${message.rejectHintIndex}/${message.rejectHintTerm}` : `${head} index ${message.index}`;
    case 'heartbeat':
      return `${head} commit ${message.commit}`;
    case 'vote':
      return `${head}${message.preVote ? ' pre' : ''}${message.transfer ? ' transfer' : ''} last ${message.lastIndex}/${message.lastTerm}`;
    case 'voteResponse':
      return `${head}${message.preVote ? ' pre' : ''} ${message.reject ? 'reject' : 'grant'}`;
    case 'snapshot':
      return `${head} snapshot ${message.snapshot.index}/${message.snapshot.term}`;
    case 'readIndexResponse':
      return `${head} ${message.context} at ${message.index}`;
    default:
      return head;
  }
}

export class RaftTestCluster {
  readonly ids: readonly string[];
  readonly nodes = new Map<string, RaftNode>();
  readonly storages = new Map<string, MemoryLogStorage>();
  readonly applied = new Map<string, LogEntry[]>();
  readonly readStates = new Map<string, ReadState[]>();
  readonly installedSnapshots = new Map<string, number[]>();
  /** How many times each node's Ready said `needsCatchUpCleared`. */
  readonly catchUpClearReports = new Map<string, number>();
  /** Each node's current start (its bootId). */
  readonly bootIds = new Map<string, number>();
  /** Starts so far, cluster-wide: each start's bootId (it grows, as a node's does across restarts). */
  private starts = 0;
  /** Nodes whose marker clearing `persist` does not confirm (a crash before the marker is gone). */
  readonly catchUpClearsHeld = new Set<string>();
  private readonly catchUpClearsPending = new Set<string>();
  /** Messages sent and not yet delivered, in send order. */
  inFlight: RaftMessage[] = [];
  /** Every message sent, described (`describeMessage`). */
  trace: string[] = [];
  private readonly pendingWrites = new Map<string, PendingWrite[]>();
  private readonly settings: Partial<RaftSettings>;
  private readonly random: SeededRandom;
  /** Links cut, as "from->to". */
  private readonly cut = new Set<string>();

  constructor(ids: readonly string[], settings: Partial<RaftSettings> = {}, seed = 1) {
    this.ids = ids;
    this.settings = { ...testSettings, ...settings };
    this.random = new SeededRandom(seed);
    for (const id of ids) {
      this.storages.set(id, new MemoryLogStorage());
      this.start(id);
    }
  }

  /** (Re)starts `id` from its storage, as after a crash; `needsCatchUp` as the WAL's marker says. */
  start(id: string, options: StartOptions = {}): RaftNode {
    const storage = this.storage(id);
    this.starts += 1;
    this.bootIds.set(id, this.starts);
    const node = new RaftNode({ ...this.settings, ...options, id, voters: this.ids, storage, bootId: this.starts,
      random: new SeededRandom(this.random.nextUint32()), appliedIndex: storage.heldSnapshot?.index ?? 0 });
    this.nodes.set(id, node);
    this.pendingWrites.set(id, []);
    this.applied.set(id, []);
    this.readStates.set(id, []);
    return node;
  }

  /** Crash: the node and its writes in flight are gone; the storage keeps what was durable. */
  crash(id: string): void {
    this.nodes.delete(id);
    this.pendingWrites.set(id, []);
    this.catchUpClearsPending.delete(id);
    this.inFlight = this.inFlight.filter((message) => message.to !== id);
  }

  node(id: string): RaftNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`node ${id} is down`);
    return node;
  }

  storage(id: string): MemoryLogStorage {
    return this.storages.get(id) as MemoryLogStorage;
  }

  appliedData(id: string): string[] {
    return (this.applied.get(id) ?? []).filter((entry) => entry.type === entryTypes.normal).map((entry) => new TextDecoder().decode(entry.data));
  }

  propose(id: string, text: string): ReturnType<RaftNode['propose']> {
    return this.node(id).propose([{ type: entryTypes.normal, data: new TextEncoder().encode(text) }]);
  }

  tick(id: string, ticks = 1): void {
    for (let count = 0; count < ticks; count++) this.node(id).tick();
    this.processReadies(id);
  }

  /** Takes every Ready of `id`: sends what may go now, queues the write with what waits for it. */
  processReadies(id: string): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    while (node.hasReady()) {
      const ready = node.ready();
      this.pendingWrites.get(id)?.push({ ready });
      for (const message of ready.messages) this.send(message);
      if (ready.snapshot !== null) this.installedSnapshots.set(id, [...(this.installedSnapshots.get(id) ?? []), ready.snapshot.index]);
      this.applied.get(id)?.push(...ready.committedEntries);
      this.readStates.get(id)?.push(...ready.readStates);
      if (ready.needsCatchUpCleared) {
        this.catchUpClearReports.set(id, (this.catchUpClearReports.get(id) ?? 0) + 1);
        this.catchUpClearsPending.add(id);
      }
      node.advance(ready);
    }
  }

  /** Makes every write of `id` durable, in order; releases what waited for them. */
  persist(id: string): void {
    this.processReadies(id);
    const node = this.nodes.get(id);
    const writes = this.pendingWrites.get(id) ?? [];
    this.pendingWrites.set(id, []);
    if (node === undefined) return;
    const storage = this.storage(id);
    for (const { ready } of writes) {
      if (ready.snapshot !== null) storage.installSnapshot(ready.snapshot);
      if (ready.entries.length > 0) storage.append(ready.entries);
      if (ready.hardState !== null) storage.hardState = ready.hardState;
      const last = ready.entries[ready.entries.length - 1];
      if (last !== undefined) node.onDurable({ lastIndex: last.index, term: last.term });
      else if (ready.snapshot !== null) node.onDurable({ lastIndex: ready.snapshot.index, term: ready.snapshot.term });
      for (const message of ready.messagesAfterDurable) this.send(message);
    }
    if (this.catchUpClearsPending.has(id) && !this.catchUpClearsHeld.has(id)) {
      this.catchUpClearsPending.delete(id);
      node.onNeedsCatchUpCleared();
    }
    this.processReadies(id);
  }

  private send(message: RaftMessage): void {
    this.trace.push(describeMessage(message));
    this.inFlight.push(message);
  }

  /** Delivers the messages in flight now (not those they cause) that `filter` accepts; the
   *  others stay in flight. Messages on a cut link are dropped. Returns those delivered. */
  deliver(filter: (message: RaftMessage) => boolean = () => true): RaftMessage[] {
    const now = this.inFlight;
    this.inFlight = [];
    const delivered: RaftMessage[] = [];
    for (const message of now) {
      if (!filter(message)) {
        this.inFlight.push(message);
        continue;
      }
      if (this.cut.has(`${message.from}->${message.to}`)) continue;
      const target = this.nodes.get(message.to);
      if (target === undefined) continue;
      delivered.push(message);
      target.step(message);
      this.processReadies(message.to);
    }
    return delivered;
  }

  /** Persists and delivers until nothing is left to do; messages `lose` accepts are lost. */
  stabilize(lose: (message: RaftMessage) => boolean = () => false): void {
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      for (const id of this.nodes.keys()) {
        this.processReadies(id);
        this.persist(id);
      }
      this.inFlight = this.inFlight.filter((message) => !lose(message));
      const pending = [...this.pendingWrites.values()].some((writes) => writes.length > 0);
      if (this.inFlight.length === 0 && !pending) return;
      this.deliver();
    }
    throw new Error(`cluster not stable after ${stabilizeRoundsMax} rounds; in flight: ${this.inFlight.map(describeMessage).join('; ')}`);
  }

  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  /** Cuts every link between `group` and the other nodes, both ways. */
  partition(group: readonly string[]): void {
    for (const inside of group) {
      for (const outside of this.ids) {
        if (group.includes(outside)) continue;
        this.cut.add(`${inside}->${outside}`);
        this.cut.add(`${outside}->${inside}`);
      }
    }
  }

  cutLink(from: string, to: string): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Ticks `id` until it campaigns (its randomized timeout passes), then stabilizes. */
  elect(id: string): void {
    this.tick(id, this.settings.electionTimeoutTicksMax ?? 20);
    this.stabilize();
    expect(this.node(id).status().role, `${id} should have won the election`).to.equal('leader');
  }

  /** Lets time pass for every node that is up, one tick at a time, until one of `candidates`
   *  leads; returns it. Who wins is decided by the seeded election timeouts. */
  advanceUntilLeader(candidates: readonly string[], ticksMax = 100): string {
    for (let tick = 0; tick < ticksMax; tick++) {
      for (const id of [...this.nodes.keys()]) this.tick(id);
      this.stabilize();
      const leader = candidates.find((id) => this.nodes.get(id)?.status().role === 'leader');
      if (leader !== undefined) return leader;
    }
    throw new Error(`none of ${candidates.join(', ')} became leader within ${ticksMax} ticks`);
  }

  /** Heartbeat rounds on the leader: tick it and stabilize. */
  heartbeat(leader: string, rounds = 1): void {
    for (let round = 0; round < rounds; round++) {
      this.tick(leader, this.settings.heartbeatIntervalTicks ?? 1);
      this.stabilize();
    }
  }

  takeTrace(): string[] {
    const taken = this.trace;
    this.trace = [];
    return taken;
  }
}
