// A FIFO with O(1) push and shift (array + head index, compacted lazily), for the scheduler's queues.
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Replaces the head item in place (e.g. the unsent tail of a partly served buffer). */
  replaceHead(item: T): void {
    if (this.head < this.items.length) this.items[this.head] = item;
  }

  /** Drops every item matching the predicate, keeping the order of the rest (O(n); for rare clean-ups). */
  removeWhere(predicate: (item: T) => boolean): void {
    this.items = this.items.slice(this.head).filter((item) => !predicate(item as T));
    this.head = 0;
  }

  /** The items, oldest first (a copy). */
  toArray(): T[] {
    return this.items.slice(this.head) as T[];
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
