/**
 * The faults of one direction of a link (say n1 -> n2), switchable at run time: what happens to
 * the bytes (`pass`, `drop` or `blackhole`), the latency added to each chunk (mean and jitter,
 * drawn from a seeded random source), a bandwidth limit, and an armed cut ("destroy the connection
 * after N more bytes"). Every connection of that direction (a FaultPipe each) reads these settings
 * and is told when they change.
 *
 * Modes, as the receiver sees them:
 * - `pass`: bytes arrive, after the latency and at most at the bandwidth limit.
 * - `blackhole`: nothing arrives and the connection stays open. The pipe stops reading its source
 *   (TCP backpressure then reaches the sender), and what it held stays held; on heal everything
 *   is delivered in order, as TCP would after a partition. Memory stays bounded.
 * - `drop`: bytes are read and discarded. Nothing arrives, the sender is never slowed, and the
 *   stream has a hole in it: after a heal the receiver reads the middle of a frame (a peer then
 *   closes the connection as malformed and reconnects). Use it to test exactly that.
 *
 * Invariants: `latency.meanMs >= 0`, `0 <= latency.jitterMs <= latency.meanMs` (a delay is never
 * negative); `bandwidthBytesPerSecond` is undefined or a positive integer; `cutAfterBytes` is
 * undefined or a non-negative integer, and counts down across every connection of the direction.
 *
 * Runs on: the process that hosts the fault network (a test or the drill).
 */
import { assert } from '../errors.js';
import { SeededRandom } from '../raft/random.js';

export type LinkMode = 'pass' | 'drop' | 'blackhole';

export interface LatencySettings {
  readonly meanMs: number;
  /** Each chunk's delay is drawn uniformly in [meanMs - jitterMs, meanMs + jitterMs]. */
  readonly jitterMs: number;
}

export interface LinkStats {
  bytesPassed: number;
  bytesDropped: number;
  connectionsCut: number;
}

/** What a pipe may pass of `bytes` before an armed cut, and whether it must cut after them. */
export interface Admission {
  readonly passBytes: number;
  readonly cut: boolean;
}

const noLatency: LatencySettings = { meanMs: 0, jitterMs: 0 };

export class LinkFaults {
  /** For messages and stats, e.g. `n1->n2`. */
  readonly name: string;
  readonly stats: LinkStats = { bytesPassed: 0, bytesDropped: 0, connectionsCut: 0 };
  private modeNow: LinkMode = 'pass';
  private latencyNow: LatencySettings = noLatency;
  private bandwidthNow: number | undefined;
  private cutAfterBytes: number | undefined;
  private readonly random: SeededRandom;
  private readonly listeners = new Set<() => void>();

  constructor(name: string, seed: number) {
    this.name = name;
    this.random = new SeededRandom(seed);
  }

  get mode(): LinkMode {
    return this.modeNow;
  }

  get latency(): LatencySettings {
    return this.latencyNow;
  }

  get bandwidthBytesPerSecond(): number | undefined {
    return this.bandwidthNow;
  }

  setMode(mode: LinkMode): void {
    this.modeNow = mode;
    this.changed();
  }

  setLatency(latency: LatencySettings): void {
    assert(Number.isFinite(latency.meanMs) && latency.meanMs >= 0, `${this.name}: latency.meanMs must be >= 0, got ${latency.meanMs}`);
    assert(Number.isFinite(latency.jitterMs) && latency.jitterMs >= 0 && latency.jitterMs <= latency.meanMs,
      `${this.name}: latency.jitterMs must be in [0, meanMs], got ${latency.jitterMs} (meanMs ${latency.meanMs})`);
    this.latencyNow = { meanMs: latency.meanMs, jitterMs: latency.jitterMs };
    this.changed();
  }

  /** `undefined` lifts the limit. */
  limitBandwidth(bytesPerSecond: number | undefined): void {
    assert(bytesPerSecond === undefined || (Number.isSafeInteger(bytesPerSecond) && bytesPerSecond > 0),
      `${this.name}: bandwidth must be a positive integer of bytes per second, got ${String(bytesPerSecond)}`);
    this.bandwidthNow = bytesPerSecond;
    this.changed();
  }

  /** Cuts the connection that passes the `bytes`-th next byte, right after it (0: the next chunk's connection, before any of it). */
  cutAfter(bytes: number): void {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, `${this.name}: cutAfter needs a non-negative integer, got ${bytes}`);
    this.cutAfterBytes = bytes;
    this.changed();
  }

  /** Back to a plain wire: pass, no latency, no limit, no armed cut. */
  reset(): void {
    this.modeNow = 'pass';
    this.latencyNow = noLatency;
    this.bandwidthNow = undefined;
    this.cutAfterBytes = undefined;
    this.changed();
  }

  /** The delay for the next chunk, in ms (drawn from the seeded source). */
  drawDelayMs(): number {
    const { meanMs, jitterMs } = this.latencyNow;
    if (jitterMs === 0) return meanMs;
    return meanMs - jitterMs + this.random.nextFloat() * 2 * jitterMs;
  }

  /** Takes up to `bytes` from the armed cut's allowance (all of them when no cut is armed). */
  admit(bytes: number): Admission {
    const allowance = this.cutAfterBytes;
    if (allowance === undefined || bytes < allowance) {
      if (allowance !== undefined) this.cutAfterBytes = allowance - bytes;
      return { passBytes: bytes, cut: false };
    }
    this.cutAfterBytes = undefined;
    this.stats.connectionsCut += 1;
    return { passBytes: allowance, cut: true };
  }

  /** `listener` runs after every change of a setting; returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
