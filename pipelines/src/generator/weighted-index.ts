import type { Random } from './random.js'

/** Draws indexes 0..n-1, each as likely as its fixed weight (cumulative table, binary search). */
export class WeightedIndex {
  private readonly cumulative: Float64Array
  private readonly total: number

  constructor(weights: ArrayLike<number>) {
    if (weights.length === 0) throw new Error('a weighted index needs at least one weight')
    this.cumulative = new Float64Array(weights.length)
    let sum = 0
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number
      if (!(w >= 0)) throw new Error(`weight ${i} is not a non-negative number`)
      sum += w
      this.cumulative[i] = sum
    }
    if (sum <= 0) throw new Error('the weights add up to 0')
    this.total = sum
  }

  get size(): number {
    return this.cumulative.length
  }

  /** An index, drawn with one random number. */
  draw(random: Random): number {
    const r = random.next() * this.total
    const c = this.cumulative
    let lo = 0
    let hi = c.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((c[mid] as number) > r) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/**
 * Weights 1 / (i + 1 + offset)^exponent for i = 0..n-1: a Zipf (power-law) popularity over n ranks;
 * an offset above 0 (Zipf–Mandelbrot) flattens the head, so the first rank is not a huge share.
 */
export function zipfWeights(n: number, exponent: number, offset = 0): Float64Array {
  const weights = new Float64Array(n)
  for (let i = 0; i < n; i++) weights[i] = 1 / (i + 1 + offset) ** exponent
  return weights
}
