/** The q-quantile (0..1) of the finite non-null values, interpolated linearly; null when there are none. */
export function quantile(values: readonly (number | null)[], q: number): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const pos = Math.min(1, Math.max(0, q)) * (v.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return (v[lo] as number) + ((v[hi] as number) - (v[lo] as number)) * (pos - lo)
}

export const median = (values: readonly (number | null)[]): number | null => quantile(values, 0.5)
