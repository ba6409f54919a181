import { kmeans } from 'ml-kmeans'
import { meanSilhouette } from './mean-silhouette.js'

export interface KMeansBySilhouetteOptions {
  /** Largest k tried; k runs over 2..min(maxK, n − 1, distinct points). */
  readonly maxK: number
  readonly seed: number
  /** k-means runs per k (seeds seed, seed + 1, …); the one with the least inertia is kept. */
  readonly restarts: number
}

export interface KMeansChoice {
  readonly k: number
  /** Cluster of each point, 0..k − 1 (empty clusters dropped). */
  readonly labels: readonly number[]
  /** Null when there was one cluster only (fewer than two distinct points). */
  readonly silhouette: number | null
  /** The mean silhouette of every k tried. */
  readonly tried: readonly { readonly k: number; readonly silhouette: number }[]
}

/**
 * Seeded k-means (k-means++ initialisation) for each k in 2..min(maxK, n − 1),
 * keeping the k with the best mean silhouette; on a tie (within 1e-9) the smaller k.
 * Deterministic: the same points in the same order give the same answer.
 */
export function kMeansBySilhouette(
  points: readonly (readonly number[])[],
  options: KMeansBySilhouetteOptions,
): KMeansChoice {
  const n = points.length
  const distinct = new Set(points.map((p) => p.map((x) => x.toFixed(9)).join(','))).size
  const maxK = Math.min(options.maxK, n - 1, distinct)
  if (maxK < 2) return { k: 1, labels: points.map(() => 0), silhouette: null, tried: [] }
  // Distances once, shared by every k's silhouette.
  const distances = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = euclidean(points[i] as readonly number[], points[j] as readonly number[])
      distances[i * n + j] = d
      distances[j * n + i] = d
    }
  }
  const data = points.map((p) => [...p])
  const tried: { k: number; silhouette: number }[] = []
  let best: { k: number; labels: number[]; silhouette: number } | undefined
  for (let k = 2; k <= maxK; k++) {
    const labels = bestOfRestarts(data, k, options)
    const silhouette = meanSilhouette(n, labels, (i, j) => distances[i * n + j] as number)
    const used = new Set(labels).size
    tried.push({ k, silhouette })
    if (!best || silhouette > best.silhouette + 1e-9) best = { k: used, labels, silhouette }
  }
  const chosen = best as { k: number; labels: number[]; silhouette: number }
  return { k: chosen.k, labels: chosen.labels, silhouette: chosen.silhouette, tried }
}

function bestOfRestarts(data: number[][], k: number, options: KMeansBySilhouetteOptions): number[] {
  let best: { labels: number[]; inertia: number } | undefined
  for (let r = 0; r < Math.max(1, options.restarts); r++) {
    const result = kmeans(data, k, { seed: options.seed + r, initialization: 'kmeans++', maxIterations: 300 })
    let inertia = 0
    for (let i = 0; i < data.length; i++) {
      const c = result.centroids[result.clusters[i] as number] as number[]
      inertia += euclidean(data[i] as number[], c) ** 2
    }
    if (!best || inertia < best.inertia - 1e-9) best = { labels: result.clusters, inertia }
  }
  return compact((best as { labels: number[] }).labels)
}

/** Renumbers labels 0..k − 1 in order of first appearance, dropping empty clusters. */
function compact(labels: readonly number[]): number[] {
  const map = new Map<number, number>()
  return labels.map((l) => {
    let c = map.get(l)
    if (c === undefined) {
      c = map.size
      map.set(l, c)
    }
    return c
  })
}

export function euclidean(a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let d = 0; d < a.length; d++) s += ((a[d] as number) - (b[d] as number)) ** 2
  return Math.sqrt(s)
}
