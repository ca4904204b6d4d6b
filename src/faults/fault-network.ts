/**
 * The fault network of a cluster: a FaultProxy on every peer link, and the handles a test or the
 * drill uses to break them (isolate a node, partition, one-way partitions, latency, bandwidth,
 * cuts) and to heal them.
 *
 * Topology, and why one proxy per PAIR of nodes is enough. Nodes find their peers in the cluster
 * file's `nodes:` (host, peerPort), and nowhere else. For each pair the node whose id sorts first
 * dials and the other only accepts, and that one connection carries both directions
 * (src/net/peer-transport.ts). So the pair (a, b) with a < b has exactly one dialer, a, and the
 * proxy for the pair listens on its own port and relays to b's real peer port: its forward pipes
 * are the link a -> b, its backward pipes the link b -> a. Per-direction faults need no parsing of
 * frames.
 *
 * For a to dial the proxy, a must be told a peer port for b that differs from the one b binds:
 * each node gets its own cluster file, identical but for the peers' `peerPort`s
 * (`peerPortSeenBy(viewer, peer)`). Nothing refuses that: the handshake checks the cluster name,
 * the protocol version and the node ids, never addresses, and no node compares its cluster file
 * with another's. A node's own entry keeps its real port (it binds it), and an acceptor's entry
 * for a dialer is never dialed, so it keeps the real port too.
 *
 * Handles act on directed links; a selector names one (`{ from, to }`), a list, or `'all'`.
 * Partitions use `blackhole` (connections stay open, nothing passes; after a heal the held bytes
 * arrive, as with TCP after a partition); `drop` is there to test a stream with a hole in it.
 *
 * Runs on: the process that hosts it (a test or the drill); nodes run as separate processes.
 */
import { assert } from '../errors.js';
import { SeededRandom } from '../raft/random.js';
import { FaultProxy } from './fault-proxy.js';
import { LinkFaults, type LatencySettings, type LinkMode, type LinkStats } from './link-faults.js';

export interface FaultNetworkNode {
  readonly id: string;
  /** Where the node's peer port is reachable (default 127.0.0.1). */
  readonly host?: string;
  readonly peerPort: number;
}

export interface FaultNetworkOptions {
  readonly nodes: readonly FaultNetworkNode[];
  /** Seeds every link's jitter; print it with any failure. */
  readonly seed: number;
  readonly pipeBufferedBytesMax?: number;
}

export interface LinkId {
  readonly from: string;
  readonly to: string;
}

export type LinkSelector = 'all' | LinkId | readonly LinkId[];

export interface LinkReport extends LinkStats {
  readonly mode: LinkMode;
  readonly latency: LatencySettings;
  readonly bandwidthBytesPerSecond: number | null;
}

/** Same rule as the peer transport: the node whose id sorts first dials. */
function dialerOf(a: string, b: string): { dialer: string; acceptor: string } {
  return a < b ? { dialer: a, acceptor: b } : { dialer: b, acceptor: a };
}

function linkName(from: string, to: string): string {
  return `${from}->${to}`;
}

export class FaultNetwork {
  readonly seed: number;
  readonly nodeIds: readonly string[];
  private readonly nodes: ReadonlyMap<string, FaultNetworkNode>;
  /** Keyed by `dialer->acceptor`. */
  private readonly proxies = new Map<string, FaultProxy>();
  private readonly links = new Map<string, LinkFaults>();

  constructor(options: FaultNetworkOptions) {
    const ids = options.nodes.map((node) => node.id);
    assert(new Set(ids).size === ids.length && ids.length >= 2, `a fault network needs two or more distinct node ids, got ${ids.join(', ')}`);
    this.seed = options.seed;
    this.nodeIds = [...ids].sort();
    this.nodes = new Map(options.nodes.map((node) => [node.id, node]));
    const seeds = new SeededRandom(options.seed);
    for (const dialer of this.nodeIds) {
      for (const acceptor of this.nodeIds) {
        if (!(dialer < acceptor)) continue;
        const forward = new LinkFaults(linkName(dialer, acceptor), seeds.nextUint32());
        const backward = new LinkFaults(linkName(acceptor, dialer), seeds.nextUint32());
        this.links.set(forward.name, forward).set(backward.name, backward);
        const target = this.nodeOf(acceptor);
        this.proxies.set(forward.name, new FaultProxy({
          name: `${dialer}<->${acceptor}`, target: { host: target.host ?? '127.0.0.1', port: target.peerPort }, forward, backward,
          ...(options.pipeBufferedBytesMax === undefined ? {} : { pipeBufferedBytesMax: options.pipeBufferedBytesMax }),
        }));
      }
    }
  }

  /** Binds every proxy's port. */
  async start(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.start()));
  }

  /** The peer port `viewer` must find for `peer` in its cluster file (its own port for itself). */
  peerPortSeenBy(viewer: string, peer: string): number {
    const node = this.nodeOf(peer);
    if (viewer === peer) return node.peerPort;
    const { dialer, acceptor } = dialerOf(viewer, peer);
    if (dialer !== viewer) return node.peerPort; // never dialed: the peer dials the viewer
    return this.proxyOf(dialer, acceptor).port;
  }

  /** The faults of the directed link `from -> to`. */
  link(from: string, to: string): LinkFaults {
    const faults = this.links.get(linkName(from, to));
    assert(faults !== undefined, `no link ${linkName(from, to)} in a network of ${this.nodeIds.join(', ')}`);
    return faults;
  }

  /** Every directed link, in a stable order. */
  linkIds(): LinkId[] {
    return this.nodeIds.flatMap((from) => this.nodeIds.filter((to) => to !== from).map((to) => ({ from, to })));
  }

  /** Blackholes every link to and from `id`; other links keep their state. */
  isolate(id: string): void {
    this.nodeOf(id);
    this.setMode(this.linkIds().filter((link) => link.from === id || link.to === id), 'blackhole');
  }

  /**
   * Links between groups are blackholed, links inside a group pass; a node named in no group is
   * alone. Latency and bandwidth settings are kept.
   */
  partition(groups: ReadonlyArray<readonly string[]>): void {
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => group.forEach((id) => {
      this.nodeOf(id);
      assert(!groupOf.has(id), `node ${id} is in two groups of the partition`);
      groupOf.set(id, index);
    }));
    for (const link of this.linkIds()) {
      const fromGroup = groupOf.get(link.from);
      const together = fromGroup !== undefined && fromGroup === groupOf.get(link.to);
      this.link(link.from, link.to).setMode(together ? 'pass' : 'blackhole');
    }
  }

  /** `from` can no longer reach `to`; `to` still reaches `from`. */
  oneWay(from: string, to: string): void {
    this.link(from, to).setMode('blackhole');
  }

  blackhole(selector: LinkSelector): void {
    this.setMode(this.select(selector), 'blackhole');
  }

  drop(selector: LinkSelector): void {
    this.setMode(this.select(selector), 'drop');
  }

  setLatency(selector: LinkSelector, latency: LatencySettings): void {
    for (const link of this.select(selector)) this.link(link.from, link.to).setLatency(latency);
  }

  /** `undefined` lifts the limit. */
  limitBandwidth(selector: LinkSelector, bytesPerSecond: number | undefined): void {
    for (const link of this.select(selector)) this.link(link.from, link.to).limitBandwidth(bytesPerSecond);
  }

  /** Cuts the connection of `from -> to` after `bytes` more bytes in that direction (mid-frame, likely). */
  cutAfter(from: string, to: string, bytes: number): void {
    this.link(from, to).cutAfter(bytes);
  }

  /** Destroys the open connections between `a` and `b` now (both directions); returns how many. */
  cut(a: string, b: string): number {
    const { dialer, acceptor } = dialerOf(a, b);
    return this.proxyOf(dialer, acceptor).cutAll();
  }

  /** Destroys every open peer connection now; dialers reconnect through the proxies. Returns how many. */
  cutAll(): number {
    let count = 0;
    for (const proxy of this.proxies.values()) count += proxy.cutAll();
    return count;
  }

  /** Every link back to a plain wire: pass, no latency, no bandwidth limit, no armed cut. */
  heal(): void {
    for (const faults of this.links.values()) faults.reset();
  }

  /** What the proxies hold now, in bytes, and the most they held at once (per proxy, summed). */
  bufferedBytes(): { now: number; peak: number } {
    let now = 0;
    let peak = 0;
    for (const proxy of this.proxies.values()) {
      now += proxy.bufferedBytes;
      peak += proxy.bufferedBytesPeak;
    }
    return { now, peak };
  }

  report(): Record<string, LinkReport> {
    const out: Record<string, LinkReport> = {};
    for (const [name, faults] of this.links) {
      out[name] = { ...faults.stats, mode: faults.mode, latency: faults.latency, bandwidthBytesPerSecond: faults.bandwidthBytesPerSecond ?? null };
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
  }

  private setMode(links: readonly LinkId[], mode: LinkMode): void {
    for (const link of links) this.link(link.from, link.to).setMode(mode);
  }

  private select(selector: LinkSelector): readonly LinkId[] {
    if (selector === 'all') return this.linkIds();
    if (Array.isArray(selector)) return selector as readonly LinkId[];
    return [selector as LinkId];
  }

  private nodeOf(id: string): FaultNetworkNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id} in a network of ${this.nodeIds.join(', ')}`);
    return node;
  }

  private proxyOf(dialer: string, acceptor: string): FaultProxy {
    const proxy = this.proxies.get(linkName(dialer, acceptor));
    assert(proxy !== undefined, `no proxy for ${dialer}<->${acceptor}`);
    return proxy;
  }
}

/** Builds and starts the proxies of a cluster's peer links; give each node the ports of `peerPortSeenBy`. */
export async function startFaultNetwork(options: FaultNetworkOptions): Promise<FaultNetwork> {
  const network = new FaultNetwork(options);
  await network.start();
  return network;
}
