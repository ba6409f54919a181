import { euclidean } from './k-means-by-silhouette.js'
import { minimumCostAssignment } from './minimum-cost-assignment.js'

export interface PreviousCluster {
  readonly id: number
  readonly members: readonly string[]
  /** Its centroid mapped into the current clustering space; null when its features no longer map. */
  readonly centroid: readonly number[] | null
}

export interface CurrentCluster {
  readonly members: readonly string[]
  readonly centroid: readonly number[]
}

export interface ClusterMatch {
  /** The previous cluster's id this one continues, or null for a new cluster. */
  readonly id: number | null
  readonly by: 'members' | 'centroid' | null
  /** Jaccard index of the members, with the matched previous cluster (0 when new). */
  readonly jaccard: number
  /** RMS distance per feature between the centroids, when matched by centroid. */
  readonly distance: number | null
}

export interface MatchClustersOptions {
  /** A pair sharing at least this Jaccard of members may be the same cluster. */
  readonly minJaccard: number
  /** A pair whose centroids are at most this far apart (RMS per standardized feature) may be the same cluster. */
  readonly maxCentroidDistance: number
}

/**
 * Gives the clusters of a new clustering the identities of the previous one:
 * first an optimal one-to-one matching (Hungarian) on member overlap, then, for
 * what is left (a cluster whose templates were all replaced), on centroid
 * distance. Unmatched new clusters are new; unmatched previous ones retire.
 */
export function matchClusters(
  previous: readonly PreviousCluster[],
  current: readonly CurrentCluster[],
  options: MatchClustersOptions,
): { matches: ClusterMatch[]; retired: number[] } {
  const matches: ClusterMatch[] = current.map(() => ({ id: null, by: null, jaccard: 0, distance: null }))
  const taken = new Set<number>()
  const sets = previous.map((p) => new Set(p.members))
  const byMembers = assign(previous.length, current.length, (p, c) => {
    const j = jaccard(sets[p] as Set<string>, (current[c] as CurrentCluster).members)
    return j >= options.minJaccard && j > 0 ? 1 - j : undefined
  })
  for (const [p, c, cost] of byMembers) {
    matches[c] = { id: (previous[p] as PreviousCluster).id, by: 'members', jaccard: 1 - cost, distance: null }
    taken.add(p)
  }
  const openPrevious = previous.map((_, p) => p).filter((p) => !taken.has(p))
  const openCurrent = current.map((_, c) => c).filter((c) => matches[c]?.id === null)
  const byCentroid = assign(openPrevious.length, openCurrent.length, (p, c) => {
    const old = (previous[openPrevious[p] as number] as PreviousCluster).centroid
    const now = (current[openCurrent[c] as number] as CurrentCluster).centroid
    if (!old || old.length !== now.length || now.length === 0) return undefined
    const d = euclidean(old, now) / Math.sqrt(now.length)
    return d <= options.maxCentroidDistance ? d : undefined
  })
  for (const [p, c, distance] of byCentroid) {
    const prev = previous[openPrevious[p] as number] as PreviousCluster
    const cur = openCurrent[c] as number
    matches[cur] = {
      id: prev.id,
      by: 'centroid',
      jaccard: jaccard(sets[openPrevious[p] as number] as Set<string>, (current[cur] as CurrentCluster).members),
      distance,
    }
    taken.add(openPrevious[p] as number)
  }
  return { matches, retired: previous.filter((_, p) => !taken.has(p)).map((p) => p.id) }
}

/**
 * Least-cost one-to-one pairs of rows and columns among the allowed ones
 * (`cost` returns undefined for a pair that may not match).
 */
function assign(
  rows: number,
  cols: number,
  cost: (r: number, c: number) => number | undefined,
): [number, number, number][] {
  const n = Math.max(rows, cols)
  if (rows === 0 || cols === 0) return []
  const costs: (number | undefined)[][] = []
  let ceiling = 1
  for (let r = 0; r < rows; r++) {
    const row: (number | undefined)[] = []
    for (let c = 0; c < cols; c++) {
      const x = cost(r, c)
      row.push(x)
      if (x !== undefined) ceiling = Math.max(ceiling, x + 1)
    }
    costs.push(row)
  }
  // A forbidden or padding cell costs more than any allowed pair: leaving a row unmatched is never cheaper.
  const matrix = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => costs[r]?.[c] ?? ceiling))
  const assignment = minimumCostAssignment(matrix)
  const pairs: [number, number, number][] = []
  for (let r = 0; r < rows; r++) {
    const c = assignment[r] as number
    const x = costs[r]?.[c]
    if (c >= 0 && c < cols && x !== undefined) pairs.push([r, c, x])
  }
  return pairs
}

export function jaccard(a: ReadonlySet<string>, b: readonly string[]): number {
  let shared = 0
  for (const x of b) if (a.has(x)) shared++
  const union = a.size + b.length - shared
  return union === 0 ? 0 : shared / union
}
