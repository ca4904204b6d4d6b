/**
 * A binary min-heap whose items remember their position (their "slot"), so that an item can be
 * removed or re-ordered in O(log n) without a search: the ready index of a queue (priority, then
 * ready time, then id), its oldest-ready index, and the timers of delayed jobs and of lease
 * deadlines.
 *
 * Invariants: `items[slot(x)] === x` for every item held, and -1 for an item not held;
 * `less` is a strict total order (every comparator here ends on the job id, which is unique), so
 * the order in which items come out does not depend on the heap's internal layout: a heap rebuilt
 * from a snapshot yields the same sequence as the original.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */

export interface HeapSlots<Item> {
  slotOf(item: Item): number;
  setSlot(item: Item, slot: number): void;
}

export class IndexedHeap<Item> {
  private readonly items: Item[] = [];

  constructor(
    private readonly less: (left: Item, right: Item) => boolean,
    private readonly slots: HeapSlots<Item>,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): Item | undefined {
    return this.items[0];
  }

  has(item: Item): boolean {
    const slot = this.slots.slotOf(item);
    return slot >= 0 && this.items[slot] === item;
  }

  push(item: Item): void {
    this.items.push(item);
    this.slots.setSlot(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  pop(): Item | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Removes `item` if it is held. */
  remove(item: Item): void {
    if (this.has(item)) this.removeAt(this.slots.slotOf(item));
  }

  /** Puts `item` back in order after its key changed. */
  update(item: Item): void {
    const slot = this.slots.slotOf(item);
    this.up(slot);
    this.down(this.slots.slotOf(item));
  }

  /** Every item, in no particular order. */
  values(): readonly Item[] {
    return this.items;
  }

  private removeAt(slot: number): void {
    const removed = this.items[slot] as Item;
    const last = this.items.pop() as Item;
    this.slots.setSlot(removed, -1);
    if (slot === this.items.length) return;
    this.items[slot] = last;
    this.slots.setSlot(last, slot);
    this.up(slot);
    this.down(this.slots.slotOf(last));
  }

  private up(start: number): void {
    const items = this.items;
    const item = items[start] as Item;
    let slot = start;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = items[parentSlot] as Item;
      if (!this.less(item, parent)) break;
      items[slot] = parent;
      this.slots.setSlot(parent, slot);
      slot = parentSlot;
    }
    items[slot] = item;
    this.slots.setSlot(item, slot);
  }

  private down(start: number): void {
    const items = this.items;
    const length = items.length;
    const item = items[start] as Item;
    let slot = start;
    for (;;) {
      const leftSlot = slot * 2 + 1;
      if (leftSlot >= length) break;
      const rightSlot = leftSlot + 1;
      let childSlot = leftSlot;
      if (rightSlot < length && this.less(items[rightSlot] as Item, items[leftSlot] as Item)) childSlot = rightSlot;
      const child = items[childSlot] as Item;
      if (!this.less(child, item)) break;
      items[slot] = child;
      this.slots.setSlot(child, slot);
      slot = childSlot;
    }
    items[slot] = item;
    this.slots.setSlot(item, slot);
  }
}
