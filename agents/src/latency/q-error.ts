/** Below this, milliseconds are clock noise: both sides are floored to it so a 0 ms reading cannot divide by zero. */
export const qErrorFloorMs = 0.01

/** How far off a prediction is, as a factor ≥ 1 in either direction: max(pred/actual, actual/pred). */
export function qError(predictedMs: number, actualMs: number): number {
  const p = Math.max(predictedMs, qErrorFloorMs)
  const a = Math.max(actualMs, qErrorFloorMs)
  return Math.max(p / a, a / p)
}

export interface QErrorSummary {
  readonly count: number
  readonly median: number
  readonly p90: number
  readonly mean: number
  readonly max: number
}

/** Median, p90, mean and max of q-errors (NaN for none). Quantiles by linear interpolation between ranks. */
export function summarizeQErrors(values: readonly number[]): QErrorSummary {
  if (values.length === 0) return { count: 0, median: Number.NaN, p90: Number.NaN, mean: Number.NaN, max: Number.NaN }
  const sorted = [...values].sort((a, b) => a - b)
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    mean: sum / sorted.length,
    max: sorted[sorted.length - 1] as number,
  }
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (pos - lo)
}

/** Rounds a q-error for a sentence: 1.234 → 1.23. */
export function formatQError(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : 'n/a'
}
