import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'
import { CliProcess, runCli } from '../../test/support/run-cli.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { until } from '../../test/support/until.js'

describe('cairn start keeps bronze, silver and gold fresh', () => {
  let db: TestDatabase
  let client: pg.Client
  let settings: Record<string, string>
  beforeAll(async () => {
    db = await createTestDatabase('start_pipelines')
    client = new pg.Client({ connectionString: db.url })
    await client.connect()
    const dataDir = mkdtempSync(join(tmpdir(), 'cairn-pipelines-'))
    settings = {
      CAIRN_DATABASE_URL: db.url,
      CAIRN_DATA_DIR: dataDir,
      CAIRN_HTTP_PORT: String(await freePort()),
      CAIRN_PROXY_PORT: String(await freePort()),
      CAIRN_PIPELINE_DEMO_ORDERS: '300',
      CAIRN_PIPELINE_INGEST_CRON: '*/2 * * * * *',
    }
  })
  afterAll(async () => {
    await client?.end()
    await db?.drop()
  })

  it('loads the demo on first start, then carries a file dropped in the inbox through to gold', async () => {
    const cairn = new CliProcess(['start'], settings)
    try {
      await cairn.waitFor('Cairn is ready')
      const inbox = cairn.lines.find((l) => l.msg === 'Cairn is ready')?.inbox as string
      expect(inbox).toBe(join(settings.CAIRN_DATA_DIR as string, 'inbox'))
      // The first bronze run loads the demo; silver and gold follow because data changed.
      const sales = await until('gold from the demo data', async () => {
        const { rows } = await client
          .query('SELECT count(*)::int AS n FROM gold.daily_sales')
          .catch(() => ({ rows: [{ n: 0 }] }))
        return rows[0].n > 0 ? rows[0].n : undefined
      })
      expect(sales).toBeGreaterThan(0)

      // Dashboards read gold through the proxy; the repeated read is served from the result cache.
      const state = JSON.parse(readFileSync(join(settings.CAIRN_DATA_DIR as string, 'cairn.run.json'), 'utf8'))
      const bi = new pg.Client({ connectionString: state.proxyUrl })
      await bi.connect()
      const customers360 = async () =>
        (await bi.query('SELECT count(*)::int AS n FROM gold.customer_360')).rows[0].n as number
      const before = await customers360()
      expect(await customers360()).toBe(before)
      const served = await until('the reads in the query events', async () => {
        const { rows } = await client.query(
          `SELECT cache, cache_reason FROM cairn_meta.query_events WHERE normalized_text LIKE '%gold.customer_360%' ORDER BY at`,
        )
        return rows.length >= 2 ? rows : undefined
      })
      expect(served.map((r) => r.cache)).toEqual(['miss', 'hit'])

      // A new customer and a paid order arrive as files (written elsewhere, then moved in).
      const day = '2031-03-04'
      const files: Record<string, unknown[]> = {
        'customers-9001.jsonl': [
          {
            customer_id: 990001,
            email: 'new@example.com',
            country: 'NL',
            city: 'Utrecht',
            segment: 'consumer',
            signup_ts: `${day}T08:00:00Z`,
            updated_at: `${day}T08:00:00Z`,
          },
        ],
        'orders-9001.jsonl': [
          {
            order_id: 990001,
            customer_id: 990001,
            order_ts: `${day}T09:00:00Z`,
            status: 'paid',
            channel: 'web',
            country: 'NL',
            currency: 'EUR',
            total_amount: '20.00',
            updated_at: `${day}T09:00:00Z`,
          },
        ],
        'order_items-9001.jsonl': [
          {
            order_id: 990001,
            line_no: 1,
            product_id: 1,
            quantity: 2,
            unit_price: '10.00',
            discount: '0',
            updated_at: `${day}T09:00:00Z`,
          },
        ],
      }
      for (const [name, records] of Object.entries(files)) {
        const staging = join(tmpdir(), `${process.pid}-${name}`)
        writeFileSync(staging, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`)
        renameSync(staging, join(inbox, name))
      }
      const row = await until('the new order in gold', async () => {
        const { rows } = await client.query(
          `SELECT orders, revenue::text AS revenue FROM gold.daily_sales WHERE sales_date = $1 AND country = 'NL'`,
          [day],
        )
        return rows[0]
      })
      expect(row).toEqual({ orders: 1, revenue: '21.60' })
      // gold.customer_360 is refreshed right after the marts commit.
      const customer = await until('the new customer in gold.customer_360', async () => {
        const { rows } = await client.query(
          'SELECT orders_count, rfm_segment IS NOT NULL AS segmented FROM gold.customer_360 WHERE customer_id = 990001',
        )
        return rows[0]
      })
      expect(customer).toEqual({ orders_count: 1, segmented: true })
      // The materialized view was refreshed outside the proxy and the WAL cannot show it: the gold
      // task told the cache, so the dashboard sees the new customer, not the cached count.
      // (Without that, the cached count would stay for the whole TTL, five minutes.)
      await until(
        'the dashboard to see the new customer',
        async () => ((await customers360()) === before + 1 ? true : undefined),
        { timeoutMs: 10_000 },
      )
      const metrics = await (await fetch(`${state.httpUrl}/metrics`)).text()
      const told = /^cairn_cache_invalidations_total\{source="pipeline"\} (\d+)$/m.exec(metrics)
      expect(Number(told?.[1] ?? 0)).toBeGreaterThanOrEqual(7)
      await bi.end()

      // The runs are on record, each DAG run once per trigger.
      const status = runCli(['pipeline', 'status', '--limit', '50'], settings)
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(/bronze_ingestion +schedule +succeeded/)
      expect(status.stdout).toMatch(/gold_aggregation +data +succeeded/)
    } finally {
      cairn.child.kill('SIGINT')
    }
    expect(await cairn.exited).toEqual({ code: 0, signal: null })
  }, 180_000)
})
