/** A small, fast PRNG (mulberry32): the same seed gives the same sequence on every run and machine. */
export class SeededRandom {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** One of the values, each as likely as its weight. */
  weighted<T>(values: readonly T[], weights: readonly number[]): T {
    if (values.length === 0 || values.length !== weights.length) throw new Error('one weight per value, at least one')
    const total = weights.reduce((a, b) => a + b, 0)
    let r = this.next() * total
    for (let i = 0; i < values.length; i++) {
      r -= weights[i] as number
      if (r < 0) return values[i] as T
    }
    return values[values.length - 1] as T
  }

  /** One of the values, the first most often: the i-th (from 0) as likely as 1 / (i + 1)^exponent (Zipf). */
  zipf<T>(values: readonly T[], exponent = 1): T {
    return this.weighted(
      values,
      values.map((_, i) => 1 / (i + 1) ** exponent),
    )
  }
}
