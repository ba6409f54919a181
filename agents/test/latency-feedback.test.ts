import type { QueryEvent } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryEvent } from '../../test/support/query-event.js'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { useLatencyPredictor } from '../src/latency/use-latency-predictor.js'
import { createTestAgentContext } from './support/agent-context.js'

let db: TestDatabase
let pool: pg.Pool
beforeAll(async () => {
  db = await createMigratedTestDatabase('latencyfeedback')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
  await pool.query('CREATE TABLE t AS SELECT g AS k FROM generate_series(1, 1000) g; ANALYZE t')
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

const event = (fingerprint: string, k: number): QueryEvent =>
  queryEvent({
    fingerprint,
    user: 'cairn',
    normalizedText: 'SELECT k FROM t WHERE k = $1',
    text: `SELECT k FROM t WHERE k = ${k}`,
    relationsRead: ['public.t'],
    columns: [{ relation: 'public.t', column: 'k', role: 'predicate' }],
  })

const stored = async (fingerprint: string) =>
  Number(
    (await pool.query('SELECT count(*) AS n FROM cairn_meta.latency_samples WHERE fingerprint = $1', [fingerprint]))
      .rows[0].n,
  )

describe('latency predictor feedback from the loop', () => {
  it("samples a changed fingerprint's statements past the rate limit after the loop's verdict", async () => {
    const ctx = createTestAgentContext(pool, 'latency-predictor')
    const agent = useLatencyPredictor({ pool, sampleRatePerSecond: 0.001, flushEvery: 1, retrainCheckMs: 3_600_000 })
    const teardown = await agent.start?.(ctx)
    try {
      // One token: the first statement is sampled, the rest are over the rate.
      for (let i = 0; i < 5; i++) await agent.onResult?.(event('before', i), ctx)
      await new Promise((r) => setTimeout(r, 300))
      expect(await stored('before')).toBe(1)

      ctx.bus.publishFinding({
        kind: 'action.kept',
        source: 'actuator',
        severity: 'info',
        reason: 'Kept index.create:public.t(k)',
        evidence: { key: 'index.create:public.t(k)', affectedFingerprints: ['changed'] },
      })
      for (let i = 0; i < 5; i++) await agent.onResult?.(event('changed', i), ctx)
      for (let i = 0; i < 5; i++) await agent.onResult?.(event('unchanged', i), ctx)
      const deadline = Date.now() + 5_000
      while ((await stored('changed')) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(await stored('changed')).toBe(5)
      expect(await stored('unchanged')).toBe(0)
    } finally {
      ctx.abort()
      if (typeof teardown === 'function') await teardown()
    }
  })
})
