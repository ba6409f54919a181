import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@cairn/core'
import { BronzeLoader, filesSource, runSilver, runSource, writeFiles } from '@cairn/pipelines'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { feedPartByPart } from './support/feed-parts.js'

/**
 * Dirty generated data through files → bronze → silver: nothing is lost, every kind of dirt lands
 * where its rule says, re-runs change nothing, and a crash between (or inside) the layers followed by a
 * re-run gives exactly the silver of a clean run.
 */
const log = createLogger({ level: 'silent' })
const silverTables = ['customers', 'products', 'orders', 'order_items', 'payments', 'returns', 'clickstream_events']

/** A digest of a silver table's content that ignores which bronze row and which step a value came from. */
async function digest(pool: pg.Pool, table: string): Promise<string> {
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n, md5(string_agg(j, '|' ORDER BY j)) AS md5
     FROM (SELECT (to_jsonb(t) - 'bronze_id' - 'change_seq')::text AS j FROM silver.${table} t) x`,
  )
  return `${rows[0].n}:${rows[0].md5}`
}

async function digests(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const t of [...silverTables, 'dim_date']) out[t] = await digest(pool, t)
  return out
}

describe.each(['csv', 'jsonl'] as const)('dirty %s files through bronze and silver', (format) => {
  const options = { seed: format === 'csv' ? 11 : 12, orders: 2500, start: '2025-01-01', days: 120 }
  let work: string
  let generated: Awaited<ReturnType<typeof writeFiles>>
  let db: TestDatabase
  let pool: pg.Pool
  let clean: Record<string, string>

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), `cairn-e2e-${format}-`))
    generated = await writeFiles(options, join(work, 'generated'), { format, parts: 'split' })
    db = await createMigratedTestDatabase(`e2e_${format}`)
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
  }, 120_000)
  afterAll(async () => {
    await pool?.end()
    await db?.drop()
    await rm(work, { recursive: true, force: true })
  })

  it('loads part by part, and the accounting equation holds for every run and table', async () => {
    const loader = new BronzeLoader(pool)
    const inbox = join(work, 'inbox')
    const parts = await feedPartByPart(join(work, 'generated'), inbox, async () => {
      await runSource(loader, filesSource, { dir: inbox, batchSize: 700 }, { log })
      await runSilver(pool, { log })
    })
    expect(parts.length).toBeGreaterThan(2)
    // Every bronze row was read by exactly one silver run, and each run's rows balance.
    for (const table of silverTables) {
      const { rows } = await pool.query(
        `SELECT (SELECT count(*) FROM bronze.${table})::int AS bronze,
                sum(rows_read)::int AS read,
                sum(rows_written + rows_quarantined + rows_dropped + rows_duplicate)::int AS accounted
         FROM cairn_meta.silver_accounting WHERE table_name = $1`,
        [table],
      )
      expect(rows[0].read, table).toBe(rows[0].bronze)
      expect(rows[0].accounted, table).toBe(rows[0].read)
      expect(rows[0].bronze, table).toBe(generated.records[table as keyof typeof generated.records])
    }
    clean = await digests(pool)
  }, 180_000)

  it('puts each kind of dirt where its rule says, with its reason', async () => {
    const { rows } = await pool.query<{ table_name: string; rule: string; n: number }>(
      `SELECT table_name, rule, count(*)::int AS n FROM cairn_meta.quarantine GROUP BY 1, 2`,
    )
    const count = (table: string, match: (rule: string) => boolean) =>
      rows.filter((r) => r.table_name === table && match(r.rule)).reduce((a, r) => a + r.n, 0)
    const byKind: Record<string, (rule: string) => boolean> = {
      missing_field: (r) => r.endsWith('_present'),
      type: (r) => r.endsWith('_type'),
      negative_quantity: (r) => r === 'quantity_positive',
      unknown_currency: (r) => r === 'currency_accepted',
    }
    let expectedTotal = 0
    for (const table of silverTables) {
      const dirt = generated.dirt[table as keyof typeof generated.dirt]
      const expected = {
        missing_field: dirt.missing_field ?? 0,
        type: (dirt.malformed ?? 0) + (dirt.wrong_type ?? 0),
        negative_quantity: dirt.negative_quantity ?? 0,
        unknown_currency: dirt.unknown_currency ?? 0,
      }
      for (const [kind, n] of Object.entries(expected)) {
        expect(count(table, byKind[kind] as (r: string) => boolean), `${table} ${kind}`).toBe(n)
        expectedTotal += n
      }
    }
    expect(expectedTotal).toBeGreaterThan(20)
    // Nothing else was quarantined: clean records, drifted schemas, late and duplicate records pass.
    expect(rows.reduce((a, r) => a + r.n, 0)).toBe(expectedTotal)
    // Each quarantine row says why and points at its bronze row.
    const sample = await pool.query(
      `SELECT q.reason, b.payload = q.payload AS same FROM cairn_meta.quarantine q
       JOIN bronze.order_items b ON b.bronze_id = q.bronze_id WHERE q.rule = 'quantity_positive' LIMIT 1`,
    )
    expect(sample.rows[0].reason).toMatch(/^quantity -\d+ is outside \[1, 10000\]$/)
    expect(sample.rows[0].same).toBe(true)
  })

  it('collapses duplicates, keeps one current row per key, and completes inferred customers', async () => {
    const dup = await pool.query(`SELECT sum(rows_duplicate)::int AS n FROM cairn_meta.silver_accounting`)
    const injected = silverTables.reduce((a, t) => {
      const d = generated.dirt[t as keyof typeof generated.dirt]
      return a + (d.duplicate ?? 0) + (d.near_duplicate ?? 0) + (d.out_of_order_update ?? 0)
    }, 0)
    expect(dup.rows[0].n).toBeGreaterThanOrEqual(injected)
    for (const [t, key] of [
      ['customers', 'customer_id'],
      ['products', 'product_id'],
    ]) {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS bad FROM (SELECT ${key} FROM silver.${t} GROUP BY 1 HAVING count(*) FILTER (WHERE is_current) <> 1) x`,
      )
      expect(rows[0].bad, t).toBe(0)
    }
    // Orphan orders created inferred customers; the later customer records completed them. The only
    // inferred customers left are those whose every record was quarantined.
    const inferred = await pool.query(
      `SELECT sum(inferred_members)::int AS n FROM cairn_meta.silver_accounting WHERE table_name = 'orders'`,
    )
    expect(generated.dirt.orders.orphan ?? 0).toBeGreaterThan(0)
    expect(inferred.rows[0].n).toBeGreaterThan(0)
    const left = await pool.query(
      `SELECT count(*)::int AS n FROM silver.customers c WHERE c.is_inferred AND EXISTS (
         SELECT 1 FROM bronze.customers b WHERE b.payload->>'customer_id' = c.customer_id::text
         AND NOT EXISTS (SELECT 1 FROM cairn_meta.quarantine q WHERE q.table_name = 'customers' AND q.bronze_id = b.bronze_id))`,
    )
    expect(left.rows[0].n).toBe(0)
    const orders = await pool.query(
      'SELECT count(*)::int AS n FROM silver.orders WHERE customer_id NOT IN (SELECT customer_id FROM silver.customers)',
    )
    expect(orders.rows[0].n).toBe(0)
  })

  it('changes nothing when every step runs again', async () => {
    const loader = new BronzeLoader(pool)
    const bronzeBefore = await pool.query('SELECT count(*)::int AS n FROM cairn_meta.bronze_batches')
    const again = await runSource(loader, filesSource, { dir: join(work, 'inbox'), batchSize: 700 }, { log })
    expect(again.rows).toBe(0)
    const run = await runSilver(pool, { log })
    expect(run.steps.every((s) => s.read === 0)).toBe(true)
    expect((await pool.query('SELECT count(*)::int AS n FROM cairn_meta.bronze_batches')).rows).toEqual(
      bronzeBefore.rows,
    )
    expect(await digests(pool)).toEqual(clean)
  })

  it('loses and duplicates nothing after crashes inside bronze and between bronze and silver', async () => {
    const crashDb = await createMigratedTestDatabase(`e2e_crash_${format}`)
    const crashPool = new pg.Pool({ connectionString: crashDb.url, max: 4 })
    try {
      const loader = new BronzeLoader(crashPool)
      const config = { dir: join(work, 'generated'), batchSize: 700 }
      let batches = 0
      const crash = () => {
        if (++batches === 5) throw new Error('injected crash while loading bronze')
      }
      await expect(runSource(loader, filesSource, config, { log, onBatch: crash })).rejects.toThrow(/injected crash/)
      await runSource(loader, filesSource, config, { log })
      // Silver crashes just before committing orders; the steps before it are committed.
      await expect(
        runSilver(crashPool, {
          log,
          beforeCommit: (table) => {
            if (table === 'orders') throw new Error('injected crash in silver')
          },
        }),
      ).rejects.toThrow(/injected crash in silver/)
      await runSource(loader, filesSource, config, { log })
      await runSilver(crashPool, { log })
      // All parts at once, after crashes, gives the silver of the clean part-by-part load.
      expect(await digests(crashPool)).toEqual(clean)
      const failed = await crashPool.query(
        `SELECT count(*)::int AS n FROM cairn_meta.pipeline_runs WHERE status = 'failed'`,
      )
      expect(failed.rows[0].n).toBe(1)
    } finally {
      await crashPool.end()
      await crashDb.drop()
    }
  }, 180_000)
})
