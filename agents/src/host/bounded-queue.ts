/**
 * A fixed-capacity FIFO on a ring buffer: O(1) push and shift, and when full a
 * push drops the oldest item. An array's shift() moves every element, which at
 * thousands of events a second on a full queue costs the event loop real time.
 */
export class BoundedQueue<T> {
  readonly #items: (T | undefined)[]
  #head = 0
  #size = 0

  constructor(readonly capacity: number) {
    this.#items = new Array(Math.max(1, capacity))
  }

  get length(): number {
    return this.#size
  }

  /** Adds at the tail; returns true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    const cap = this.#items.length
    if (this.#size === cap) {
      this.#items[this.#head] = item
      this.#head = (this.#head + 1) % cap
      return true
    }
    this.#items[(this.#head + this.#size) % cap] = item
    this.#size++
    return false
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head] = undefined
    this.#head = (this.#head + 1) % this.#items.length
    this.#size--
    return item
  }

  clear(): void {
    this.#items.fill(undefined)
    this.#head = 0
    this.#size = 0
  }
}
