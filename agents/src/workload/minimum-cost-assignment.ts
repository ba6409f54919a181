/**
 * The Hungarian method (Kuhn–Munkres with potentials, O(n³)): for a square cost
 * matrix, the column assigned to each row so that the total cost is least.
 */
export function minimumCostAssignment(cost: readonly (readonly number[])[]): number[] {
  const n = cost.length
  if (n === 0) return []
  // 1-based arrays, as in the textbook formulation: index 0 is the virtual start.
  const u = new Array<number>(n + 1).fill(0)
  const v = new Array<number>(n + 1).fill(0)
  const match = new Array<number>(n + 1).fill(0)
  const way = new Array<number>(n + 1).fill(0)
  for (let row = 1; row <= n; row++) {
    match[0] = row
    let col0 = 0
    const minv = new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY)
    const used = new Array<boolean>(n + 1).fill(false)
    do {
      used[col0] = true
      const i0 = match[col0] as number
      let delta = Number.POSITIVE_INFINITY
      let col1 = 0
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue
        const reduced = ((cost[i0 - 1] as readonly number[])[j - 1] as number) - (u[i0] as number) - (v[j] as number)
        if (reduced < (minv[j] as number)) {
          minv[j] = reduced
          way[j] = col0
        }
        if ((minv[j] as number) < delta) {
          delta = minv[j] as number
          col1 = j
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[match[j] as number] = (u[match[j] as number] as number) + delta
          v[j] = (v[j] as number) - delta
        } else minv[j] = (minv[j] as number) - delta
      }
      col0 = col1
    } while (match[col0] !== 0)
    do {
      const col1 = way[col0] as number
      match[col0] = match[col1] as number
      col0 = col1
    } while (col0 !== 0)
  }
  const assignment = new Array<number>(n).fill(-1)
  for (let j = 1; j <= n; j++) if ((match[j] as number) > 0) assignment[(match[j] as number) - 1] = j - 1
  return assignment
}
