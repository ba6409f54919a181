import { IsolationForest } from 'ml-isolation-forest'

export interface ScoreIntervalsInput {
  /** Recent ordinary interval vectors (all fingerprints). */
  readonly training: readonly (readonly number[])[]
  /** The vectors of the intervals being judged. */
  readonly candidates: readonly (readonly number[])[]
  /** Trees in the forest. */
  readonly trees?: number
  /** Training vectors each forest is grown on, sampled from `training`. */
  readonly sampleSize?: number
}

/**
 * Isolation-forest anomaly scores (0..1, higher is more isolated) for the
 * candidates. The forest is grown on a sample of the history together with the
 * candidates themselves: a value never seen in the history (an error rate where
 * there were never errors) can then only be isolated, not silently routed down
 * the branch of the nearest ordinary value. Columns that do not vary are left
 * out, since splitting on them isolates nothing. Runs in a worker thread.
 */
export function scoreIntervals({ training, candidates, trees = 200, sampleSize = 256 }: ScoreIntervalsInput): number[] {
  if (candidates.length === 0) return []
  const sample = sampleWithoutReplacement(training, sampleSize)
  const all = [...sample, ...candidates]
  const width = candidates[0]?.length ?? 0
  const varying: number[] = []
  for (let c = 0; c < width; c++) {
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (const row of all) {
      const v = row[c] ?? 0
      if (v < min) min = v
      if (v > max) max = v
    }
    if (max > min) varying.push(c)
  }
  // Nothing varies: no candidate differs from anything, so none is isolated.
  if (varying.length === 0 || all.length < 3) return candidates.map(() => 0.5)
  const project = (row: readonly number[]) => varying.map((c) => row[c] ?? 0)
  const forest = new IsolationForest({ nEstimators: trees })
  forest.train(all.map(project))
  return forest.predict(candidates.map(project))
}

function sampleWithoutReplacement<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items]
  const copy = [...items]
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i))
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy.slice(0, n)
}
