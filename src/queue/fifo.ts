/**
 * A first-in first-out sequence with O(1) push, peek and shift (amortized): an array read from a
 * moving head, compacted once the consumed part is both large and more than half of the array.
 * Holds the retention order of completed and cancelled jobs.
 *
 * Invariant: the live items are `items[head..]`, in push order.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */

/** Consumed slots tolerated before a compaction is considered: amortizes the copy. */
const compactAfterSlots = 1024;

export class Fifo<Item> {
  private items: Item[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: Item): void {
    this.items.push(item);
  }

  peek(): Item | undefined {
    return this.items[this.head];
  }

  shift(): Item | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as Item;
    this.head += 1;
    if (this.head >= compactAfterSlots && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** The live items, oldest first (a copy: safe to keep across later pushes). */
  toArray(): Item[] {
    return this.items.slice(this.head);
  }
}
