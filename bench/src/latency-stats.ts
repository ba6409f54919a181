/** Latency percentiles of a set of requests, in ms. */
export interface LatencyStats {
  count: number
  meanMs: number | undefined
  p50Ms: number | undefined
  p95Ms: number | undefined
  p99Ms: number | undefined
  maxMs: number | undefined
}

/** The nearest-rank percentile (0 < p ≤ 100) of values sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

export function latencyStats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    count: sorted.length,
    meanMs: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : undefined,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1),
  }
}
