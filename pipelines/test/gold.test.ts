import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@cairn/core'
import { BronzeLoader, filesSource, runGold, runSilver, runSource, writeFiles } from '@cairn/pipelines'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { feedPartByPart } from './support/feed-parts.js'

const log = createLogger({ level: 'silent' })
const marts = [
  'daily_sales',
  'customer_360',
  'product_performance',
  'daily_funnel',
  'order_line_facts',
  'session_facts',
]

async function digests(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const t of marts) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, md5(string_agg(j, '|' ORDER BY j)) AS md5 FROM (SELECT to_jsonb(t)::text AS j FROM gold.${t} t) x`,
    )
    out[t] = `${rows[0].n}:${rows[0].md5}`
  }
  return out
}

describe('gold', () => {
  let work: string
  let db: TestDatabase
  let pool: pg.Pool
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-gold-'))
    await writeFiles({ seed: 5, orders: 2000, start: '2025-01-01', days: 100 }, join(work, 'generated'), {
      format: 'jsonl',
      parts: 'split',
    })
    db = await createMigratedTestDatabase('gold')
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
  }, 60_000)
  afterAll(async () => {
    await pool?.end()
    await db?.drop()
    await rm(work, { recursive: true, force: true })
  })

  it('incremental runs after each load (late, updated and out-of-order records) equal a full rebuild', async () => {
    const loader = new BronzeLoader(pool)
    const inbox = join(work, 'inbox')
    const parts = await feedPartByPart(join(work, 'generated'), inbox, async () => {
      await runSource(loader, filesSource, { dir: inbox }, { log })
      await runSilver(pool, { log })
      const incremental = await runGold(pool)
      expect(incremental.changed).toBeGreaterThan(0)
      const afterIncremental = await digests(pool)
      const full = await runGold(pool, { full: true })
      expect(full.full).toBe(true)
      expect(await digests(pool)).toEqual(afterIncremental)
    })
    expect(parts.length).toBeGreaterThan(2)
    // Nothing new in silver: an incremental run touches nothing.
    const idle = await runGold(pool)
    expect(idle).toMatchObject({ orders: 0, changed: 0 })
  }, 120_000)

  it('adds up to the business definitions computed straight from silver', async () => {
    const { rows } = await pool.query(`
      WITH lines AS (
        SELECT o.order_id, o.customer_id, (i.quantity * i.unit_price - i.discount) * fx.usd_per_unit AS gross,
               coalesce((SELECT sum(r.refund_amount) FROM silver.returns r WHERE r.order_id = i.order_id AND r.line_no = i.line_no), 0) * fx.usd_per_unit AS refund
        FROM silver.orders o JOIN silver.order_items i USING (order_id) JOIN gold.currency_rates fx USING (currency)
        WHERE o.status IN ('paid', 'shipped', 'delivered', 'returned')
      )
      SELECT (SELECT round(sum(round(gross, 2)) - sum(round(refund, 2)), 2) FROM lines) AS expected_revenue,
             (SELECT sum(revenue) FROM gold.daily_sales) AS revenue,
             (SELECT count(DISTINCT customer_id) FROM lines) AS expected_customers,
             (SELECT count(*) FROM gold.customer_360) AS customers,
             (SELECT sum(lifetime_revenue) FROM gold.customer_360) AS customer_revenue,
             (SELECT count(*) FROM gold.customer_360 WHERE rfm_segment IS NULL) AS unsegmented,
             (SELECT count(*) FROM silver.products WHERE is_current) AS expected_products,
             (SELECT count(*) FROM gold.product_performance) AS products,
             (SELECT count(DISTINCT session_id) FROM silver.clickstream_events) AS expected_sessions,
             (SELECT sum(sessions) FROM gold.daily_funnel) AS sessions`)
    const r = rows[0]
    expect(Number(r.revenue)).toBeGreaterThan(0)
    expect(r.revenue).toBe(r.expected_revenue)
    expect(r.customer_revenue).toBe(r.expected_revenue)
    expect(r.customers).toBe(r.expected_customers)
    expect(r.unsegmented).toBe('0')
    expect(r.products).toBe(r.expected_products)
    expect(r.sessions).toBe(r.expected_sessions)
  })
})
