/**
 * Whether a node that found its WAL empty may vote as a member of a brand-new cluster, or must
 * first be caught up by a leader: the decision a fresh node takes from its peers' handshakes.
 *
 * Why it cannot decide alone: an empty data directory looks the same on a brand-new cluster's
 * first start and on a node whose disk was wiped or replaced. The wiped node has forgotten its
 * votes and the entries it acknowledged; if it voted as if new, a candidate missing a committed
 * entry could win with its vote (3 nodes: e committed on L and W; W wiped; L down; B without e
 * wins with W's vote) and e would be lost.
 *
 * What a peer says in its handshake: whether it is *blank* — its term is 0 and it holds no log,
 * no snapshot and no catch-up marker, so it has never voted, never acknowledged an entry and
 * never heard of a leader. Blank is about promises made, not about files: a node of a brand-new
 * cluster that bootstrapped (and wrote its identity) stays blank until its first election, so two
 * fresh nodes that start together never see each other as established and wait for each other.
 * Blank only ever turns into not blank, so a stale "not blank" is never wrong.
 *
 * The rule (the verdict is given once):
 * - any peer that is not blank -> `catchUp`: the cluster has a history this node may have been
 *   part of; it persists the needs-catch-up marker and votes only once a leader caught it up;
 * - every peer heard, all blank -> `bootstrap` at once: a brand-new cluster started together;
 * - a majority (counting this node) heard blank -> `bootstrap` after `waitTicks` more ticks in
 *   which a peer with a history would still make it `catchUp`: a brand-new cluster with a node
 *   missing starts one election timeout later; a wiped node whose established peer is merely slow
 *   to connect is not fooled by one blank peer;
 * - otherwise it keeps waiting: it neither votes nor campaigns, for as long as it takes.
 *
 * Safe as long as at most a minority of the voters have lost their state (a wiped disk, or a node
 * never started while the others ran): every majority then holds a node with the history, which
 * is never blank. Losing a majority's disks at once loses committed entries whatever the rule.
 *
 * Runs on: Replicator thread, or the simulator.
 */
import { falconError, type FalconError } from '../errors.js';
import type { HardState } from '../log/hard-state.js';
import type { FromWal, ToWal, WalRecoveredMessage } from '../protocol/wal.js';

/** What this module needs from a peer's handshake. */
export interface PeerHandshake {
  /** Term 0, no log, no snapshot, no catch-up marker: the peer has made no promise yet. */
  readonly blank: boolean;
}

export type FreshStartVerdict =
  | { readonly kind: 'bootstrap'; readonly why: string }
  | { readonly kind: 'catchUp'; readonly why: string };

export interface FreshStartStatus {
  readonly waitingForPeers: boolean;
  /** Each peer heard so far: true when it said it is blank. */
  readonly heard: Readonly<Record<string, boolean>>;
}

export class FreshStartGate {
  private readonly self: string;
  private readonly peers: readonly string[];
  private readonly waitTicks: number;
  private readonly heard = new Map<string, boolean>();
  /** Ticks since a blank majority was first heard; null before. */
  private ticksWithBlankMajority: number | null = null;
  private decided = false;

  /** `voters` includes `self`; `waitTicks` ≥ 0 (an election timeout in ticks). */
  constructor(self: string, voters: readonly string[], waitTicks: number) {
    this.self = self;
    this.peers = voters.filter((voter) => voter !== self);
    this.waitTicks = waitTicks;
  }

  /** The verdict right away, for a cluster of one (no peer to hear), else null. */
  initialVerdict(): FreshStartVerdict | null {
    return this.judge();
  }

  onPeerHandshake(peer: string, handshake: PeerHandshake): FreshStartVerdict | null {
    if (this.decided || !this.peers.includes(peer)) return null;
    this.heard.set(peer, handshake.blank);
    if (!handshake.blank) {
      return this.verdict({ kind: 'catchUp', why: `this node's data directory was empty (no hard state, log or snapshot) `
        + `while peer ${peer} holds state of this cluster; the disk may have been wiped or replaced, so it must be caught up `
        + 'by a leader before it may vote or lead' });
    }
    return this.judge();
  }

  onTick(): FreshStartVerdict | null {
    if (this.decided || this.ticksWithBlankMajority === null) return null;
    this.ticksWithBlankMajority += 1;
    return this.judge();
  }

  get status(): FreshStartStatus {
    return { waitingForPeers: !this.decided, heard: Object.fromEntries(this.heard) };
  }

  private judge(): FreshStartVerdict | null {
    const blankPeers = [...this.heard.values()].filter((blank) => blank).length;
    if (blankPeers === this.peers.length) {
      return this.verdict({ kind: 'bootstrap', why: `every voter is blank (${[this.self, ...this.peers].join(', ')}): a brand-new cluster` });
    }
    const quorum = Math.floor((this.peers.length + 1) / 2) + 1;
    if (blankPeers + 1 < quorum) return null;
    this.ticksWithBlankMajority ??= 0;
    if (this.ticksWithBlankMajority < this.waitTicks) return null;
    return this.verdict({ kind: 'bootstrap', why: `a majority of the voters is blank (${blankPeers + 1} of ${this.peers.length + 1}) `
      + `and no peer with state was heard for ${this.waitTicks} ticks: a brand-new cluster` });
  }

  private verdict(verdict: FreshStartVerdict): FreshStartVerdict {
    this.decided = true;
    return verdict;
  }
}

export interface FreshStartOptions {
  readonly self: string;
  readonly voters: readonly string[];
  readonly waitTicks: number;
  readonly clusterName: string;
  /** Sends a request to the WAL (in order, never dropped). */
  readonly toWal: (message: ToWal) => void;
  /** The verdict, for the log. */
  readonly onVerdict: (verdict: FreshStartVerdict) => void;
  /** What the verdict required is durable: build the core (`needsCatchUp` with the marker). */
  readonly done: (needsCatchUp: boolean, hardState: HardState | null) => void;
  readonly fail: (error: FalconError) => void;
}

/**
 * The start of a fresh node in the replica loop: waits for the verdict, then makes it durable
 * before the core exists — `bootstrap` writes the hard state with the cluster's identity (term 0,
 * no vote), `catchUp` writes the needs-catch-up marker — and only then hands over (`done`).
 * Until then there is no core: nothing is voted, acknowledged or campaigned, and peer messages
 * are dropped (Raft retransmits).
 */
export class FreshStart {
  private readonly options: FreshStartOptions;
  private readonly gate: FreshStartGate;
  private phase: 'waiting' | 'bootstrapping' | 'marking' | 'done' = 'waiting';

  constructor(options: FreshStartOptions) {
    this.options = options;
    this.gate = new FreshStartGate(options.self, options.voters, options.waitTicks);
  }

  begin(): void {
    this.act(this.gate.initialVerdict());
  }

  onPeerHandshake(peer: string, handshake: PeerHandshake): void {
    if (this.phase === 'waiting') this.act(this.gate.onPeerHandshake(peer, handshake));
  }

  onTick(): void {
    if (this.phase === 'waiting') this.act(this.gate.onTick());
  }

  /** True once the verdict was to catch up (the marker is requested, durable or not). */
  get catchingUp(): boolean {
    return this.phase === 'marking';
  }

  get status(): FreshStartStatus & { readonly phase: string } {
    return { ...this.gate.status, phase: this.phase };
  }

  onWalReply(reply: FromWal): void {
    if (reply.type === 'walError') {
      this.options.fail(reply.error);
    } else if (reply.type === 'hardStateSaved' && this.phase === 'bootstrapping') {
      this.phase = 'done';
      this.options.done(false, reply.state);
    } else if (reply.type === 'needsCatchUpMarked' && this.phase === 'marking') {
      this.phase = 'done';
      this.options.done(true, null);
    }
  }

  private act(verdict: FreshStartVerdict | null): void {
    if (verdict === null) return;
    this.options.onVerdict(verdict);
    if (verdict.kind === 'bootstrap') {
      this.phase = 'bootstrapping';
      this.options.toWal({ type: 'saveHardState', state: { term: 0, vote: null, commit: 0, cluster: this.options.clusterName } });
    } else {
      this.phase = 'marking';
      this.options.toWal({ type: 'markNeedsCatchUp', reason: verdict.why });
    }
  }
}

/** A WAL that holds nothing: no hard state, no log, no snapshot, no marker. */
export function isFreshWal(recovered: WalRecoveredMessage): boolean {
  return recovered.hardState === null && recovered.lastIndex === 0 && recovered.snapshot === null && recovered.needsCatchUp === null;
}

/** CONFIG_INVALID when the data directory belongs to another cluster than `clusterName`, else null. */
export function clusterMismatch(recovered: WalRecoveredMessage, clusterName: string | undefined): FalconError | null {
  const persisted = recovered.hardState?.cluster ?? null;
  if (clusterName === undefined || persisted === null || persisted === clusterName) return null;
  return falconError('CONFIG_INVALID', `the data directory belongs to cluster '${persisted}', but the cluster file names cluster `
    + `'${clusterName}'; the data of two clusters must never be mixed: start this node with its own cluster's file, or, to make `
    + `it a member of '${clusterName}', with an empty data directory (it is then caught up by the leader before it votes)`,
  { persisted, configured: clusterName });
}
