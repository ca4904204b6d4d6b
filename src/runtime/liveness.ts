/**
 * Per-actor liveness counters in shared memory.
 *
 * Each actor owns one Int32 slot and adds 1 to it every `livenessIntervalMs` from a timer on its
 * own event loop; a loop that is blocked (an endless loop, a stuck synchronous call) stops the
 * counter. The supervisor reads the slot and declares the actor stuck when the value has not moved
 * for `livenessTimeoutMs`. The counter wraps at 2^32; only "did it change" is ever asked.
 *
 *   | slot 0 (Int32) | slot 1 | ... | slot N-1 |   one slot per actor, in actorNames order
 *
 * Runs on: supervisor (reads) and each actor thread (writes its own slot).
 */
import { actorNames, type ActorName } from './topology.js';

export function createLivenessBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * actorNames.length);
}

export function livenessSlotOf(actor: ActorName): number {
  return actorNames.indexOf(actor);
}

export function beat(liveness: Int32Array, slot: number): void {
  Atomics.add(liveness, slot, 1);
}

export function readBeats(liveness: Int32Array, slot: number): number {
  return Atomics.load(liveness, slot);
}
