/** The result of a two-sample Mann-Whitney U test. */
export interface MannWhitneyResult {
  /** U of the first sample: how many (first, second) pairs have first > second (ties count half). */
  readonly u: number
  /** One-sided p-value that the first sample tends to be larger than the second. */
  readonly pGreater: number
  /** One-sided p-value that the first sample tends to be smaller than the second. */
  readonly pLess: number
}

/** Standard normal CDF (Abramowitz and Stegun 26.2.17, error below 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z))
  const density = Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI)
  const tail =
    density * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))))
  return z >= 0 ? 1 - tail : tail
}

/**
 * Mann-Whitney U on two samples of latencies: rank-based, so it assumes no
 * distribution and is not thrown off by the few long outliers a busy small
 * machine produces. Normal approximation with tie and continuity corrections
 * (fine from about 8 values per sample, which verification always has).
 */
export function mannWhitneyU(first: readonly number[], second: readonly number[]): MannWhitneyResult {
  const n1 = first.length
  const n2 = second.length
  if (n1 === 0 || n2 === 0) return { u: 0, pGreater: 1, pLess: 1 }
  const all = [...first.map((v) => ({ v, from: 0 })), ...second.map((v) => ({ v, from: 1 }))].sort((a, b) => a.v - b.v)
  let rankSum = 0
  let tieTerm = 0
  for (let i = 0; i < all.length; ) {
    let j = i
    while (j + 1 < all.length && all[j + 1]?.v === all[i]?.v) j++
    const size = j - i + 1
    // Tied values share the mean of their ranks (1-based).
    const rank = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) if (all[k]?.from === 0) rankSum += rank
    tieTerm += size ** 3 - size
    i = j + 1
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2
  const n = n1 + n2
  const mean = (n1 * n2) / 2
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)))
  if (variance <= 0) return { u, pGreater: 1, pLess: 1 }
  const sd = Math.sqrt(variance)
  return {
    u,
    pGreater: 1 - normalCdf((u - mean - 0.5) / sd),
    pLess: normalCdf((u - mean + 0.5) / sd),
  }
}
