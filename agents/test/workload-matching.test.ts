import { describe, expect, it } from 'vitest'
import { matchClusters } from '../src/workload/match-clusters.js'
import { minimumCostAssignment } from '../src/workload/minimum-cost-assignment.js'
import { prng } from './support/workload-ecommerce.js'

const options = { minJaccard: 0.5, maxCentroidDistance: 0.5 }

/** Every permutation's cost, for checking the Hungarian method on small matrices. */
function bruteForceMinimum(cost: number[][]): number {
  const n = cost.length
  let best = Number.POSITIVE_INFINITY
  const permute = (row: number, used: boolean[], total: number) => {
    if (row === n) {
      best = Math.min(best, total)
      return
    }
    for (let c = 0; c < n; c++) {
      if (used[c]) continue
      used[c] = true
      permute(row + 1, used, total + (cost[row]?.[c] as number))
      used[c] = false
    }
  }
  permute(0, new Array(n).fill(false), 0)
  return best
}

describe('minimumCostAssignment', () => {
  it('finds the least total cost, as trying every permutation does', () => {
    const r = prng(3)
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + (trial % 6)
      const cost = Array.from({ length: n }, () => Array.from({ length: n }, () => Math.round(r() * 20) / 2))
      const assignment = minimumCostAssignment(cost)
      expect(new Set(assignment).size).toBe(n)
      const total = assignment.reduce((sum, c, row) => sum + (cost[row]?.[c] as number), 0)
      expect(total).toBeCloseTo(bruteForceMinimum(cost), 9)
    }
  })
})

describe('matchClusters', () => {
  const previous = [
    { id: 7, members: ['a', 'b', 'c'], centroid: [0, 0] },
    { id: 9, members: ['d', 'e'], centroid: [5, 5] },
    { id: 12, members: ['f'], centroid: [9, 0] },
  ]

  it('keeps ids when the same clusters come back in another order', () => {
    const { matches, retired } = matchClusters(
      previous,
      [
        { members: ['f'], centroid: [9, 0] },
        { members: ['e', 'd'], centroid: [5, 5] },
        { members: ['c', 'a', 'b'], centroid: [0, 0] },
      ],
      options,
    )
    expect(matches.map((m) => m.id)).toEqual([12, 9, 7])
    expect(matches.every((m) => m.by === 'members' && m.jaccard === 1)).toBe(true)
    expect(retired).toEqual([])
  })

  it('gives a new cluster no id, retires one that is gone, and follows a cluster whose templates were replaced', () => {
    const { matches, retired } = matchClusters(
      previous,
      [
        { members: ['a', 'b', 'c', 'x'], centroid: [0.1, 0] },
        // d and e were replaced by templates of the same shape: same place, no shared members.
        { members: ['y', 'z'], centroid: [5.2, 5.1] },
        { members: ['w'], centroid: [-9, -9] },
      ],
      options,
    )
    expect(matches[0]).toMatchObject({ id: 7, by: 'members', jaccard: 0.75 })
    expect(matches[1]).toMatchObject({ id: 9, by: 'centroid', jaccard: 0 })
    expect(matches[2]).toMatchObject({ id: null, by: null })
    expect(retired).toEqual([12])
  })

  it('prefers the pairing with the most overlap overall, not the best single pair first', () => {
    // Greedy would pair 1 with the first cluster (Jaccard 0.8) and leave 2 without a match.
    const { matches, retired } = matchClusters(
      [
        { id: 1, members: ['a', 'b', 'c', 'd'], centroid: null },
        { id: 2, members: ['a', 'b', 'c', 'x', 'y'], centroid: null },
      ],
      [
        { members: ['a', 'b', 'c', 'd', 'x'], centroid: [0] },
        { members: ['a', 'b', 'c', 'd', 'z', 'w'], centroid: [0] },
      ],
      options,
    )
    expect(matches.map((m) => m.id)).toEqual([2, 1])
    expect(retired).toEqual([])
  })
})
