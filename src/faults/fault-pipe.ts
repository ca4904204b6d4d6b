/**
 * One direction of one proxied connection: reads chunks from `source`, holds each until its
 * release time, and writes it to `destination`, as its LinkFaults say (mode, latency, bandwidth,
 * armed cut).
 *
 * Order: a chunk's release time is `max(arrival + drawn delay, previous chunk's release time)`, so
 * jitter never reorders bytes of a connection. Bandwidth: chunks leave in slices, and the next
 * slice may leave only once the previous one has had its time on the wire
 * (`sliceBytes / bandwidth`); idle time earns no burst credit.
 *
 * Bounded memory: the pipe's buffered bytes (held chunks plus what `destination` has not flushed)
 * stay under `bufferedBytesMax` plus one chunk read from the socket (a read is at most the
 * stream's high-water mark, 64 KiB): at the bound the pipe pauses `source`, and resumes it once
 * below. A blackholed pipe pauses `source` whatever it holds. Backpressure thus reaches the sender
 * through TCP instead of piling up here.
 *
 * Invariants: `heldBytes` is the sum of the held chunks' lengths; at most one release timer is set,
 * and only while something is held.
 *
 * Runs on: the process that hosts the fault network.
 */
import type { Socket } from 'node:net';
import type { LinkFaults } from './link-faults.js';

interface HeldChunk {
  bytes: Buffer;
  readonly releaseAtMs: number;
}

/** A FIFO with O(1) removal at the head (Array.shift is O(n), and a pipe may hold many small chunks). */
class ChunkQueue {
  private items: HeldChunk[] = [];
  private headIndex = 0;

  get length(): number {
    return this.items.length - this.headIndex;
  }

  get head(): HeldChunk | undefined {
    return this.items[this.headIndex];
  }

  push(chunk: HeldChunk): void {
    this.items.push(chunk);
  }

  removeHead(): void {
    this.headIndex += 1;
    // Why: compact once the consumed prefix outweighs what is left, so memory follows the length.
    if (this.headIndex >= 1024 && this.headIndex * 2 >= this.items.length) {
      this.items = this.items.slice(this.headIndex);
      this.headIndex = 0;
    }
  }

  clear(): void {
    this.items = [];
    this.headIndex = 0;
  }
}

/** Why: ~10 ms of wire time per slice keeps a limited link smooth at timer granularity. */
const bandwidthSlicesPerSecond = 100;
const sliceBytesMin = 64;
const sliceBytesMax = 64 * 1024;

export interface FaultPipeOptions {
  readonly source: Socket;
  readonly destination: Socket;
  readonly faults: LinkFaults;
  readonly bufferedBytesMax: number;
  /** The pipe's armed cut fired: destroy both sockets of the connection (after the bytes written). */
  readonly onCut: () => void;
  /** Called whenever the pipe's buffered bytes may have grown (for the proxy's peak gauge). */
  readonly onBuffered: () => void;
  readonly nowMs?: () => number;
}

export class FaultPipe {
  private readonly options: FaultPipeOptions;
  private readonly held = new ChunkQueue();
  private heldBytes = 0;
  private lastReleaseAtMs = 0;
  private wireFreeAtMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private sourceEnded = false;
  private closed = false;
  private readonly nowMs: () => number;
  private readonly stopListening: () => void;

  constructor(options: FaultPipeOptions) {
    this.options = options;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.stopListening = options.faults.onChange(() => this.onSettingsChanged());
    options.source.on('data', (chunk: Buffer) => this.onChunk(chunk));
    options.source.on('end', () => {
      this.sourceEnded = true;
      this.pump();
    });
    options.destination.on('drain', () => this.pump());
    this.onSettingsChanged();
  }

  /** Held chunks plus bytes written to `destination` that it has not flushed to the kernel. */
  get bufferedBytes(): number {
    return this.heldBytes + this.options.destination.writableLength;
  }

  /** Stops timers and listening; the proxy destroys the sockets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.clearTimer();
    this.held.clear();
    this.heldBytes = 0;
  }

  private onChunk(chunk: Buffer): void {
    if (this.closed) return;
    const faults = this.options.faults;
    if (faults.mode === 'drop') {
      faults.stats.bytesDropped += chunk.length;
      return;
    }
    const nowMs = this.nowMs();
    const releaseAtMs = Math.max(nowMs + faults.drawDelayMs(), this.lastReleaseAtMs);
    this.lastReleaseAtMs = releaseAtMs;
    this.held.push({ bytes: chunk, releaseAtMs });
    this.heldBytes += chunk.length;
    this.options.onBuffered();
    this.pump();
  }

  private onSettingsChanged(): void {
    if (this.closed) return;
    const faults = this.options.faults;
    if (faults.mode === 'drop' && this.heldBytes > 0) {
      faults.stats.bytesDropped += this.heldBytes;
      this.held.clear();
      this.heldBytes = 0;
    }
    this.clearTimer();
    this.pump();
  }

  /** Releases what is due, then sets the timer for the next release and pauses or resumes `source`. */
  private pump(): void {
    if (this.closed) return;
    const faults = this.options.faults;
    const destination = this.options.destination;
    while (faults.mode === 'pass' && this.held.length > 0 && destination.writableLength < this.options.bufferedBytesMax) {
      const head = this.held.head as HeldChunk;
      const nowMs = this.nowMs();
      const dueAtMs = Math.max(head.releaseAtMs, this.wireFreeAtMs);
      if (dueAtMs > nowMs) {
        this.armTimer(dueAtMs - nowMs);
        break;
      }
      if (!this.release(head, nowMs)) return;
    }
    if (faults.mode !== 'blackhole' && this.held.length === 0 && this.sourceEnded && !destination.writableEnded) destination.end();
    this.applyBackpressure();
  }

  /** Writes the head's next slice; false when an armed cut fired (the connection is gone). */
  private release(head: HeldChunk, nowMs: number): boolean {
    const faults = this.options.faults;
    const bandwidth = faults.bandwidthBytesPerSecond;
    const sliceBytes = bandwidth === undefined
      ? head.bytes.length
      : Math.min(head.bytes.length, Math.max(sliceBytesMin, Math.min(sliceBytesMax, Math.floor(bandwidth / bandwidthSlicesPerSecond))));
    const admission = faults.admit(sliceBytes);
    const slice = head.bytes.subarray(0, admission.passBytes);
    faults.stats.bytesPassed += slice.length;
    if (admission.cut) {
      this.close();
      if (slice.length === 0) this.options.onCut();
      else this.options.destination.write(slice, () => this.options.onCut());
      return false;
    }
    if (slice.length === head.bytes.length) this.held.removeHead();
    else head.bytes = head.bytes.subarray(slice.length);
    this.heldBytes -= slice.length;
    if (bandwidth !== undefined) this.wireFreeAtMs = Math.max(nowMs, this.wireFreeAtMs) + (slice.length * 1000) / bandwidth;
    this.options.destination.write(slice);
    this.options.onBuffered();
    return true;
  }

  private applyBackpressure(): void {
    const source = this.options.source;
    const mustPause = this.options.faults.mode === 'blackhole' || this.bufferedBytes >= this.options.bufferedBytesMax;
    if (mustPause && !source.isPaused()) source.pause();
    else if (!mustPause && source.isPaused()) source.resume();
  }

  private armTimer(delayMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, Math.ceil(delayMs)));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
