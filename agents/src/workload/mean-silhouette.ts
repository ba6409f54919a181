/**
 * The mean silhouette of a labelling (Rousseeuw 1987): per point, (b − a) / max(a, b)
 * with a its mean distance to its own cluster and b the smallest mean distance to
 * another; 0 for a point alone in its cluster. `distance(i, j)` is symmetric.
 */
export function meanSilhouette(
  n: number,
  labels: readonly number[],
  distance: (i: number, j: number) => number,
): number {
  const k = Math.max(...labels) + 1
  const sizes = new Array<number>(k).fill(0)
  for (const l of labels) sizes[l] = (sizes[l] as number) + 1
  if (sizes.filter((s) => s > 0).length < 2) return 0
  let total = 0
  const sums = new Array<number>(k)
  for (let i = 0; i < n; i++) {
    const own = labels[i] as number
    if ((sizes[own] as number) <= 1) continue
    sums.fill(0)
    for (let j = 0; j < n; j++)
      if (j !== i) sums[labels[j] as number] = (sums[labels[j] as number] as number) + distance(i, j)
    const a = (sums[own] as number) / ((sizes[own] as number) - 1)
    let b = Number.POSITIVE_INFINITY
    for (let c = 0; c < k; c++)
      if (c !== own && (sizes[c] as number) > 0) b = Math.min(b, (sums[c] as number) / (sizes[c] as number))
    const m = Math.max(a, b)
    total += m > 0 ? (b - a) / m : 0
  }
  return total / n
}
