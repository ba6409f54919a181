import { createLogger } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { runDemo } from '../src/run/demo.js'
import { analyticTemplates } from '../src/workload/analytic-workload.js'
import { runAnalyticWorkload } from '../src/workload/run-analytic-workload.js'

let db: TestDatabase
let pool: pg.Pool
beforeAll(async () => {
  db = await createMigratedTestDatabase('workload')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
  await runDemo(pool, { orders: 400, days: 30, seed: 3 }, { log: createLogger({ level: 'silent' }) })
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

describe('the demo analytic workload', () => {
  it('has at least 20 templates over silver and gold, each of which runs against the real schema', async () => {
    expect(analyticTemplates.length).toBeGreaterThanOrEqual(20)
    const relations = new Set(analyticTemplates.flatMap((t) => t.sql.match(/(silver|gold)\.\w+/g) ?? []))
    expect([...relations].some((r) => r.startsWith('gold.'))).toBe(true)
    expect([...relations].some((r) => r.startsWith('silver.'))).toBe(true)
    const result = await runAnalyticWorkload({ url: db.url, clients: 2, statements: 1_500, seed: 11 })
    expect(result.errors).toBe(0)
    expect(result.statements).toBe(1_500)
    // Every template was drawn and answered, in proportion to its weight (the rarest at least a few times).
    for (const t of result.byTemplate) expect(t.calls, t.name).toBeGreaterThan(3)
  })

  it('is deterministic for a seed and a client count', async () => {
    const a = await runAnalyticWorkload({ url: db.url, clients: 1, statements: 200, seed: 5 })
    const b = await runAnalyticWorkload({ url: db.url, clients: 1, statements: 200, seed: 5 })
    expect(a.byTemplate.map((t) => t.calls)).toEqual(b.byTemplate.map((t) => t.calls))
  })
})
