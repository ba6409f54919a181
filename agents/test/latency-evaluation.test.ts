import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { planFeatureNames } from '../src/latency/plan-features.js'
import {
  buildLatencyWarehouse,
  type CollectedLatencySample,
  collectLatencySamples,
  evaluateLatencyModel,
  latencyQueryTemplates,
} from './support/latency-workload.js'

let db: TestDatabase
let pool: pg.Pool
let samples: CollectedLatencySample[]

const feature = (s: CollectedLatencySample, name: (typeof planFeatureNames)[number]) =>
  s.features[planFeatureNames.indexOf(name)] as number

beforeAll(async () => {
  db = await createMigratedTestDatabase('latency_eval')
  pool = new pg.Pool({ connectionString: db.url, max: 2 })
  await buildLatencyWarehouse(pool)
  // 16 templates × 50 rounds = 800 queries, each timed as the median of 3 back-to-back runs.
  samples = await collectLatencySamples(db.url, { rounds: 50, repeats: 3 })
})

afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

describe('latency model evaluation on an e-commerce workload', () => {
  it('describes plans with the features their shape calls for', () => {
    const byId = samples.find((s) => s.template === 'order by id') as CollectedLatencySample
    expect(feature(byId, 'index_scans')).toBe(1)
    expect(feature(byId, 'seq_scans')).toBe(0)
    expect(feature(byId, 'relations')).toBe(1)
    expect(feature(byId, 'predicate_columns')).toBe(1)
    expect(feature(byId, 'cluster_id')).toBe(-1)
    expect(byId.planShape).toBe('Index Scan silver.orders')

    const mix = samples.find((s) => s.template === 'status mix of a country') as CollectedLatencySample
    expect(feature(mix, 'seq_scans')).toBeGreaterThanOrEqual(1)
    expect(feature(mix, 'log_seq_scan_pages')).toBeGreaterThan(Math.log(50))
    expect(feature(mix, 'hashed_aggregates') + feature(mix, 'sorted_aggregates')).toBeGreaterThanOrEqual(1)
    expect(feature(mix, 'group_by_columns')).toBe(2)

    const joined = samples.find((s) => s.template === 'revenue by category') as CollectedLatencySample
    expect(feature(joined, 'relations')).toBe(3)
    expect(feature(joined, 'join_columns')).toBe(4)
    expect(feature(joined, 'hash_joins') + feature(joined, 'nested_loops') + feature(joined, 'merge_joins')).toBe(2)
    for (const s of samples) expect(s.features).toHaveLength(planFeatureNames.length)
  })

  it('predicts held-out queries within the CI floor (median ≤ 2, p90 ≤ 5) and beats the log-cost line', async () => {
    const evaluation = await evaluateLatencyModel(samples)
    console.log(
      `latency model evaluation (${latencyQueryTemplates.length} templates):\n${JSON.stringify(evaluation, null, 1)}`,
    )
    expect(evaluation.heldOutRows).toBe(160)
    expect(evaluation.heldOut.medianQError).toBeLessThanOrEqual(2)
    expect(evaluation.heldOut.p90QError).toBeLessThanOrEqual(5)
    expect(evaluation.heldOut.medianQError).toBeLessThanOrEqual(evaluation.baseline.medianQError)
  })
})
