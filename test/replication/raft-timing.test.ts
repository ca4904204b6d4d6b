/**
 * The Replicator's Raft clock: ticks follow elapsed time, not timer callbacks, so a busy thread's
 * late callbacks do not stretch the election timeout; a gap longer than the catch-up bound (the
 * thread did not run) counts as the bound only.
 */
import { expect } from 'chai';
import { catchUpTicksMax, clockTicker, raftTickMs, ticksOf } from '../../src/replication/raft-timing.js';

function ticker(): { readonly ticks: () => number; readonly at: (ms: number) => void } {
  let now = 1_000;
  let ticks = 0;
  const callback = clockTicker((elapsedTicks) => { ticks += elapsedTicks; }, () => now);
  return { ticks: () => ticks, at: (ms) => { now = 1_000 + ms; callback(); } };
}

describe('Raft clock ticks', () => {
  it('ticks once per 5 ms of elapsed time even when the callbacks come late and uneven', () => {
    const clock = ticker();
    // A busy thread: callbacks every 7 to 13 ms instead of 5, over 300 ms (the minimum election timeout).
    let ms = 0;
    const gaps = [7, 9, 13, 8, 11];
    for (let call = 0; ms + (gaps[call % gaps.length] ?? 0) <= 300; call += 1) {
      ms += gaps[call % gaps.length] ?? 0;
      clock.at(ms);
    }
    expect(clock.ticks()).to.equal(Math.floor(ms / raftTickMs));
    expect(clock.ticks()).to.be.at.least(ticksOf(300) - 2);
  });

  it('carries the part of a tick a callback did not use', () => {
    const clock = ticker();
    clock.at(3);
    expect(clock.ticks()).to.equal(0);
    clock.at(6);
    expect(clock.ticks()).to.equal(1);
    clock.at(9);
    expect(clock.ticks()).to.equal(1);
    clock.at(10);
    expect(clock.ticks()).to.equal(2);
  });

  it('counts a gap longer than the catch-up bound (a thread that did not run) as the bound only', () => {
    const clock = ticker();
    clock.at(5);
    clock.at(2_005);
    expect(clock.ticks()).to.equal(1 + catchUpTicksMax);
    // Then on as before, from where the gap left off.
    clock.at(2_010);
    expect(clock.ticks()).to.equal(2 + catchUpTicksMax);
  });
});
