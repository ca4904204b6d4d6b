/**
 * The injected source of randomness. The core never calls Math.random: a node draws its election
 * timeouts from a `Random` given at construction, so that a seeded simulator replays a run exactly.
 *
 * `SeededRandom` is a small fast generator (a 128-bit state advanced with add, xor and rotate,
 * seeded through a splitmix-style scrambler) — plenty for timeouts and fault schedules, not for
 * cryptography.
 *
 * Invariant: `nextUint32()` returns an integer in [0, 2^32).
 *
 * Runs on: every thread.
 */

export interface Random {
  /** The next integer in [0, 2^32). */
  nextUint32(): number;
}

const twoPow32 = 0x1_0000_0000;

/** An integer in [0, bound). `bound` must be a positive integer no larger than 2^32. */
export function randomBelow(random: Random, bound: number): number {
  return Math.floor((random.nextUint32() / twoPow32) * bound);
}

/** An integer in [min, max] (both inclusive). */
export function randomBetween(random: Random, min: number, max: number): number {
  return min + randomBelow(random, max - min + 1);
}

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let mixer = seed >>> 0;
    const scramble = (): number => {
      mixer = (mixer + 0x9e3779b9) >>> 0;
      let z = mixer;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = scramble();
    this.b = scramble();
    this.c = scramble();
    this.d = scramble();
    // Why: the first outputs of a freshly seeded state are correlated with the seed; burn them.
    for (let round = 0; round < 12; round++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / twoPow32;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.nextFloat() * bound);
  }

  /** An integer in [min, max], both inclusive. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** True with probability `probability`. */
  chance(probability: number): boolean {
    return this.nextFloat() < probability;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new Error(`assertion failed: pick from an empty array`);
    return item;
  }
}
