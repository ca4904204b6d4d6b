/**
 * The simulated network between nodes: per-direction links that partitions cut (both ways,
 * halves, one node isolated, one-way), random drops, duplicates, delays and delay spikes (which
 * reorder). A message is delivered only if its link is up both when sent and when it arrives,
 * and only to the incarnation of the node it was sent to (a restarted process has new sockets).
 *
 * Invariant: `linkUp[i][i]` is always true; every decision is drawn from the run's one random
 * source, in event order.
 *
 * Runs on: the simulator.
 */
import type { SeededRandom } from '../../src/raft/random.js';
import type { SimOptions } from './sim-options.js';

export class SimNetwork {
  private readonly linkUp: boolean[][];
  private readonly random: SeededRandom;
  private readonly options: SimOptions['network'];
  /** Extra drop probability during a "storm" fault. */
  stormDropRate = 0;
  /** False in the liveness phase: no drops or duplicates, delays stay. */
  lossy = true;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(nodeCount: number, random: SeededRandom, options: SimOptions['network']) {
    this.random = random;
    this.options = options;
    this.linkUp = [];
    for (let from = 0; from < nodeCount; from++) this.linkUp.push(new Array<boolean>(nodeCount).fill(true));
  }

  isLinkUp(from: number, to: number): boolean {
    return this.linkUp[from]?.[to] ?? false;
  }

  setLink(from: number, to: number, up: boolean): void {
    const row = this.linkUp[from];
    if (row !== undefined && from !== to) row[to] = up;
  }

  /** No link is cut (no partition in force). */
  isWhole(): boolean {
    return this.linkUp.every((row) => row.every((up) => up));
  }

  healAll(): void {
    for (let from = 0; from < this.linkUp.length; from++) for (let to = 0; to < this.linkUp.length; to++) this.setLink(from, to, true);
  }

  /** Cuts every link between `group` and the rest, both ways. */
  separate(group: readonly number[]): void {
    const inGroup = new Set(group);
    for (let from = 0; from < this.linkUp.length; from++) {
      for (let to = 0; to < this.linkUp.length; to++) if (inGroup.has(from) !== inGroup.has(to)) this.setLink(from, to, false);
    }
  }

  /** The delays (µs) of the copies of a message to deliver: none when dropped, two when duplicated. */
  plan(from: number, to: number): number[] {
    this.sent++;
    if (!this.isLinkUp(from, to)) {
      this.dropped++;
      return [];
    }
    const random = this.random;
    if (this.lossy && random.chance(this.options.dropRate + this.stormDropRate)) {
      this.dropped++;
      return [];
    }
    const copies = this.lossy && random.chance(this.options.duplicateRate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    const delays: number[] = [];
    for (let copy = 0; copy < copies; copy++) {
      let delayUs = random.between(this.options.delayUsMin, this.options.delayUsMax);
      if (random.chance(this.options.spikeRate)) delayUs += random.below(this.options.spikeUsMax);
      delays.push(delayUs);
    }
    return delays;
  }
}
