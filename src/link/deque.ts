// A FIFO with O(1) push and shift, for the scheduler's and the streams' queues: a ring of power-of-two
// capacity, so a queue that holds a few items at a time keeps reusing the same few slots. (An array with
// a head index that only moves forward, compacted lazily, walked ~16 KB of fresh slots per 2048 messages
// on every stream and scheduler queue: memory each small message touched once.)

/** A ring emptied at this capacity or above gives its slots back (a burst does not pin them). */
const SHRINK_CAPACITY = 1024;
const FIRST_CAPACITY = 4;

export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & (this.items.length - 1)] = item;
    this.size++;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const items = this.items;
    const item = items[this.head];
    items[this.head] = undefined;
    this.head = (this.head + 1) & (items.length - 1);
    if (--this.size === 0 && items.length >= SHRINK_CAPACITY) this.clear();
    return item;
  }

  /** Replaces the head item in place (e.g. the unsent tail of a partly served buffer). */
  replaceHead(item: T): void {
    if (this.size > 0) this.items[this.head] = item;
  }

  /** Drops every item matching the predicate, keeping the order of the rest (O(n); for rare clean-ups). */
  removeWhere(predicate: (item: T) => boolean): void {
    const kept = this.toArray().filter((item) => !predicate(item));
    this.clear();
    for (const item of kept) this.push(item);
  }

  /** The items, oldest first (a copy). */
  toArray(): T[] {
    const out = new Array<T>(this.size);
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) out[i] = this.items[(this.head + i) & mask] as T;
    return out;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.size = 0;
  }

  /** Doubles the ring (its items moved to the front, in order). */
  private grow(): void {
    const capacity = this.items.length === 0 ? FIRST_CAPACITY : this.items.length * 2;
    const next = new Array<T | undefined>(capacity).fill(undefined);
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) & mask];
    this.items = next;
    this.head = 0;
  }
}
