/**
 * The simulator's agenda: events ordered by simulated time, ties broken by the order they were
 * scheduled, so a run is a pure function of its seed. A binary min-heap over parallel arrays.
 *
 * Invariant: the heap property holds on (timeUs, sequence); sequence numbers are unique and
 * increasing, so no two events compare equal.
 *
 * Runs on: the simulator (one thread per run).
 */

export interface SimEvent {
  readonly timeUs: number;
  readonly sequence: number;
  /** The node the event belongs to (its deliveries, ticks, disk completions), or -1. */
  readonly nodeIndex: number;
  /** The node incarnation it was scheduled for: an event for a crashed incarnation is dropped. */
  readonly incarnation: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private nextSequence = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(timeUs: number, nodeIndex: number, incarnation: number, run: () => void): void {
    const event: SimEvent = { timeUs, sequence: this.nextSequence++, nodeIndex, incarnation, run };
    const heap = this.heap;
    let position = heap.length;
    heap.push(event);
    while (position > 0) {
      const parent = (position - 1) >> 1;
      const parentEvent = heap[parent] as SimEvent;
      if (!before(event, parentEvent)) break;
      heap[position] = parentEvent;
      position = parent;
    }
    heap[position] = event;
  }

  /** Removes and returns the earliest event, or undefined when none is left. */
  pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let position = 0;
    const length = heap.length;
    for (;;) {
      const left = position * 2 + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(heap[right] as SimEvent, heap[left] as SimEvent)) child = right;
      const childEvent = heap[child] as SimEvent;
      if (!before(childEvent, last)) break;
      heap[position] = childEvent;
      position = child;
    }
    heap[position] = last;
    return top;
  }

  peekTimeUs(): number {
    return this.heap[0]?.timeUs ?? Infinity;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.timeUs < b.timeUs || (a.timeUs === b.timeUs && a.sequence < b.sequence);
}
