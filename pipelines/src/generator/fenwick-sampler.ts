import type { Random } from './random.js'

/**
 * Weights over the indexes 1..size that change one at a time (a Fenwick tree): add to a weight and
 * draw an index as likely as its weight, both in O(log size). Drives preferential attachment: customers
 * who ordered more are more likely to order again.
 */
export class FenwickSampler {
  private readonly tree: Float64Array
  private readonly topStep: number
  private sum = 0

  constructor(readonly size: number) {
    this.tree = new Float64Array(size + 1)
    let step = 1
    while (step * 2 <= size) step *= 2
    this.topStep = step
  }

  /** The sum of all weights. */
  get total(): number {
    return this.sum
  }

  /** Adds delta to the weight of index (1-based). */
  add(index: number, delta: number): void {
    this.sum += delta
    const tree = this.tree
    for (let i = index; i <= this.size; i += i & -i) tree[i] = (tree[i] as number) + delta
  }

  /** An index drawn as likely as its weight, or 0 when every weight is 0. */
  draw(random: Random): number {
    if (this.sum <= 0) return 0
    let remaining = random.next() * this.sum
    const tree = this.tree
    let position = 0
    for (let step = this.topStep; step > 0; step >>= 1) {
      const next = position + step
      if (next <= this.size && (tree[next] as number) <= remaining) {
        position = next
        remaining -= tree[next] as number
      }
    }
    return Math.min(position + 1, this.size)
  }
}
