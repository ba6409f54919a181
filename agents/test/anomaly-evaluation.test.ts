import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { evaluateDetector } from '../src/anomaly/evaluate-detector.js'
import { createTestAgentContext } from './support/agent-context.js'

describe('anomaly detector on injected anomalies', () => {
  let database: TestDatabase
  let pool: pg.Pool

  beforeAll(async () => {
    database = await createMigratedTestDatabase('anomaly_eval')
    pool = new pg.Pool({ connectionString: database.url, max: 10 })
  })

  afterAll(async () => {
    await pool?.end()
    await database?.drop()
  })

  it('finds dropped indexes, error bursts, load spikes and slow plans with F1 of at least 0.8', async () => {
    const ctx = createTestAgentContext(pool, 'anomaly-detector')
    const result = await evaluateDetector({ pool, db: ctx.db, workers: ctx.workers })
    console.log(
      `anomaly evaluation: precision ${result.precision.toFixed(3)}, recall ${result.recall.toFixed(3)}, F1 ${result.f1.toFixed(3)} ` +
        `(TP ${result.truePositives}, FP ${result.falsePositives}, FN ${result.falseNegatives}, ${result.pairs} (fingerprint, interval) pairs)`,
    )
    const line = (s: { precision: number; recall: number; f1: number }) =>
      `precision ${s.precision.toFixed(3)}, recall ${s.recall.toFixed(3)}, F1 ${s.f1.toFixed(3)}`
    console.log(`  isolation forest alone: ${line(result.forestOnly)}; sanity gate alone: ${line(result.gateOnly)}`)
    for (const d of result.detected) console.log(`  detected ${d.injected} in interval ${d.interval}: ${d.reason}`)
    for (const m of result.missed) console.log(`  missed ${m.injected} (${m.template}) in interval ${m.interval}`)
    for (const f of result.falseAlarms)
      console.log(`  false alarm on ${f.template} in interval ${f.interval}: ${f.reason}`)
    expect(result.f1).toBeGreaterThanOrEqual(0.8)
    const droppedIndex = result.detected.find(
      (d) => d.injected === 'dropped-index' && d.template === 'orders-by-customer',
    )
    expect(droppedIndex?.reason).toMatch(
      /plan changed from (Index|Bitmap Heap) Scan to Seq Scan on anomaly_eval\.orders/,
    )
  }, 180_000)
})
