import { createLogger } from '@cairn/core'
import { BronzeLoader, runSilver } from '@cairn/pipelines'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'

const log = createLogger({ level: 'silent' })
let db: TestDatabase
let pool: pg.Pool
let loader: BronzeLoader
let batchNo = 0
const load = (entity: string, records: unknown[]) => loader.load('test', { id: `b${++batchNo}`, entity, records })

beforeAll(async () => {
  db = await createMigratedTestDatabase('silver')
  pool = new pg.Pool({ connectionString: db.url, max: 6 })
  loader = new BronzeLoader(pool)
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

/** A seeded PRNG so the shuffles are reproducible. */
function prng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('bronze', () => {
  it('loads a batch id at most once and refuses updates and deletes', async () => {
    const first = await loader.load('t', { id: 'once', entity: 'payments', records: [{ payment_id: 1 }] })
    const again = await loader.load('t', { id: 'once', entity: 'payments', records: [{ payment_id: 1 }] })
    expect(first).toMatchObject({ loaded: true, rows: 1 })
    expect(again).toMatchObject({ loaded: false, rows: 0 })
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM bronze.payments WHERE batch_id = 'once'`)
    expect(rows[0].n).toBe(1)
    await expect(pool.query(`DELETE FROM bronze.payments WHERE batch_id = 'once'`)).rejects.toThrow(/append-only/)
    await expect(pool.query(`UPDATE bronze.payments SET source = 'x'`)).rejects.toThrow(/append-only/)
    await expect(pool.query('TRUNCATE bronze.payments')).rejects.toThrow(/append-only/)
  })

  it('keeps payloads with backslashes, tabs and newlines exactly', async () => {
    const record = { event_id: 'weird', page_url: 'a\\b\tc\nd\r"e"', nested: { x: [1, 'two'] } }
    await loader.load('t', { id: 'weird', entity: 'odd_things', records: [record] })
    const { rows } = await pool.query(`SELECT payload FROM bronze.odd_things WHERE batch_id = 'weird'`)
    expect(rows[0].payload).toEqual(record)
  })
})

describe('SCD2 customers', () => {
  it('builds the same history from versions arriving shuffled over several runs, and re-runs change nothing', async () => {
    const random = prng(7)
    const cities = ['Lyon', 'Paris', 'Nice']
    type V = {
      signup_ts: string
      customer_id: number
      email: string
      first_name: string
      country: string
      city: string
      segment: string
      updated_at: string
    }
    const versions: V[] = []
    for (let id = 1000; id < 1030; id++) {
      let city = 'Lyon'
      let name = 'N0'
      for (let v = 0; v < 8; v++) {
        // Tracked change (city) or untracked change (first_name), at random.
        if (random() < 0.5) city = cities[Math.floor(random() * cities.length)] as string
        else name = `N${v}`
        const at = new Date(Date.UTC(2025, 0, 1 + v * 3, Math.floor(random() * 24))).toISOString()
        versions.push({
          customer_id: id,
          signup_ts: '2024-12-01T00:00:00Z',
          email: `c${id}@example.com`,
          first_name: name,
          country: 'FR',
          city,
          segment: 'consumer',
          updated_at: at,
        })
      }
    }
    // Expected history, computed independently: group consecutive versions with equal tracked values.
    const expected: string[] = []
    for (let id = 1000; id < 1030; id++) {
      const vs = versions.filter((v) => v.customer_id === id).sort((a, b) => a.updated_at.localeCompare(b.updated_at))
      const groups: V[][] = []
      for (const v of vs) {
        const last = groups.at(-1)
        if (last && (last[0] as V).city === v.city) last.push(v)
        else groups.push([v])
      }
      groups.forEach((g, i) => {
        const next = groups[i + 1]
        const latest = g.at(-1) as V
        expected.push(
          `${id}|${latest.city}|${latest.first_name}|${new Date((g[0] as V).updated_at).toISOString()}|${next ? new Date((next[0] as V).updated_at).toISOString() : 'null'}|${next === undefined}`,
        )
      })
    }
    const shuffled = [...versions].sort(() => random() - 0.5)
    for (let i = 0; i < shuffled.length; i += 60) {
      await load('customers', shuffled.slice(i, i + 60))
      await runSilver(pool, { log })
    }
    const history = async () =>
      (
        await pool.query(
          `SELECT customer_id, city, first_name, valid_from, valid_to, is_current FROM silver.customers
           WHERE customer_id BETWEEN 1000 AND 1029 ORDER BY customer_id, valid_from`,
        )
      ).rows.map(
        (r) =>
          `${r.customer_id}|${r.city}|${r.first_name}|${r.valid_from.toISOString()}|${r.valid_to ? r.valid_to.toISOString() : 'null'}|${r.is_current}`,
      )
    const actual = await history()
    expect(actual).toEqual(expected)

    // The same versions again (a retried source with new batch ids): nothing changes.
    await load('customers', shuffled)
    const rerun = await runSilver(pool, { log })
    expect(rerun.steps.find((s) => s.table === 'customers')).toMatchObject({
      read: shuffled.length,
      written: 0,
      duplicates: shuffled.length,
    })
    expect(await history()).toEqual(expected)
  })
})

describe('orders', () => {
  it('keeps the newest version when an older update arrives late, and infers a missing customer', async () => {
    const order = (status: string, hour: number) => ({
      order_id: 5001,
      customer_id: 777,
      order_ts: '2025-05-01T10:00:00Z',
      status,
      channel: 'web',
      country: 'fr',
      currency: 'eur',
      total_amount: '10.00',
      updated_at: `2025-05-01T${String(hour).padStart(2, '0')}:00:00Z`,
    })
    await load('orders', [order('placed', 10), order('delivered', 15)])
    const first = await runSilver(pool, { log })
    expect(first.steps.find((s) => s.table === 'orders')).toMatchObject({
      read: 2,
      written: 1,
      duplicates: 1,
      inferred: 1,
    })
    await load('orders', [order('paid', 11)])
    const late = await runSilver(pool, { log })
    expect(late.steps.find((s) => s.table === 'orders')).toMatchObject({ read: 1, written: 0, duplicates: 1 })
    const { rows } = await pool.query('SELECT status, currency, country FROM silver.orders WHERE order_id = 5001')
    expect(rows).toEqual([{ status: 'delivered', currency: 'EUR', country: 'FR' }])
    const inferred = await pool.query('SELECT is_inferred, is_current FROM silver.customers WHERE customer_id = 777')
    expect(inferred.rows).toEqual([{ is_inferred: true, is_current: true }])

    // The real customer arrives: the inferred member is completed, still one current row.
    await load('customers', [
      {
        customer_id: 777,
        signup_ts: '2025-03-01T00:00:00Z',
        email: 'late@example.com',
        country: 'FR',
        city: 'Lille',
        segment: 'vip',
        updated_at: '2025-04-01T00:00:00Z',
      },
    ])
    await runSilver(pool, { log })
    const completed = await pool.query(
      'SELECT is_inferred, is_current, city FROM silver.customers WHERE customer_id = 777',
    )
    expect(completed.rows).toEqual([{ is_inferred: false, is_current: true, city: 'Lille' }])
  })

  it('quarantines bad rows with the rule and reason, and records per-rule counts', async () => {
    const base = {
      customer_id: 1000,
      order_ts: '2025-06-01T10:00:00Z',
      status: 'placed',
      currency: 'USD',
      total_amount: '5',
      updated_at: '2025-06-01T10:00:00Z',
    }
    await load('orders', [
      { ...base, order_id: 6001, currency: 'XXX' },
      { ...base, order_id: 6002, total_amount: 'five' },
      { ...base, order_id: 6003, order_ts: undefined },
      { ...base, order_id: 6004 },
    ])
    const run = await runSilver(pool, { log })
    const step = run.steps.find((s) => s.table === 'orders')
    expect(step).toMatchObject({ read: 4, written: 1, quarantined: 3 })
    const q = await pool.query(
      `SELECT rule, reason, payload->>'order_id' AS id FROM cairn_meta.quarantine WHERE run_id = $1 ORDER BY id`,
      [run.runId],
    )
    expect(q.rows).toEqual([
      { id: '6001', rule: 'currency_accepted', reason: "currency 'XXX' is not one of USD, EUR, GBP, CAD, AUD" },
      { id: '6002', rule: 'total_amount_type', reason: "total_amount 'five' is not a valid numeric" },
      { id: '6003', rule: 'order_ts_present', reason: 'order_ts is missing' },
    ])
    const results = await pool.query(
      `SELECT rule, checked::int, failed::int FROM cairn_meta.quality_results WHERE run_id = $1 AND table_name = 'orders' AND failed > 0 ORDER BY rule`,
      [run.runId],
    )
    expect(results.rows).toEqual([
      { rule: 'currency_accepted', checked: 2, failed: 1 },
      { rule: 'order_ts_present', checked: 3, failed: 1 },
      { rule: 'total_amount_type', checked: 4, failed: 1 },
    ])
  })

  it('rolls the step back and fails the run when a fail rule fails, keeping the rule counts', async () => {
    await load('orders', [
      {
        order_id: 7001,
        customer_id: 1000,
        order_ts: '2025-07-01T10:00:00Z',
        status: 'placed',
        currency: 'JPY',
        total_amount: '5',
        updated_at: '2025-07-01T10:00:00Z',
      },
    ])
    const before = await pool.query(
      `SELECT last_bronze_id FROM cairn_meta.silver_watermarks WHERE table_name = 'orders'`,
    )
    await expect(runSilver(pool, { log, ruleActions: { 'orders.currency_accepted': 'fail' } })).rejects.toMatchObject({
      code: 'CAIRN_ERR_PIPELINE_QUALITY_FAILED',
    })
    const after = await pool.query(
      `SELECT last_bronze_id FROM cairn_meta.silver_watermarks WHERE table_name = 'orders'`,
    )
    expect(after.rows).toEqual(before.rows)
    const run = await pool.query(
      `SELECT r.status, r.error, q.failed::int FROM cairn_meta.pipeline_runs r
       JOIN cairn_meta.quality_results q USING (run_id)
       WHERE q.rule = 'currency_accepted' AND q.table_name = 'orders' ORDER BY r.run_id DESC LIMIT 1`,
    )
    expect(run.rows[0]).toMatchObject({ status: 'failed', failed: 1 })
    expect(run.rows[0].error).toMatch(/currency_accepted failed for 1 of 1/)
    expect((await pool.query('SELECT 1 FROM silver.orders WHERE order_id = 7001')).rowCount).toBe(0)
    // With the default action the same row is quarantined by the next run: nothing was lost.
    await runSilver(pool, { log })
    expect((await pool.query(`SELECT 1 FROM cairn_meta.quarantine WHERE payload->>'order_id' = '7001'`)).rowCount).toBe(
      1,
    )
  })
})

describe('overlapping runs', () => {
  it('queue on the table locks: each bronze row is read once and one current row per key remains', async () => {
    const records = Array.from({ length: 400 }, (_, i) => ({
      customer_id: 20_000 + (i % 100),
      signup_ts: '2025-01-01T00:00:00Z',
      email: `o${i % 100}@example.com`,
      country: 'DE',
      city: `City${i % 3}`,
      segment: 'consumer',
      updated_at: new Date(Date.UTC(2025, 1, 1 + Math.floor(i / 100))).toISOString(),
    }))
    for (let i = 0; i < 4; i++) await load('customers', records.slice(i * 100, i * 100 + 100))
    const [a, b] = await Promise.all([runSilver(pool, { log }), runSilver(pool, { log })])
    const reads = [a, b].map((r) => r.steps.find((s) => s.table === 'customers')?.read ?? 0)
    expect((reads[0] ?? 0) + (reads[1] ?? 0)).toBe(400)
    const { rows } = await pool.query(
      `SELECT count(*)::int AS keys, count(*) FILTER (WHERE n <> 1)::int AS bad FROM (
         SELECT customer_id, count(*) FILTER (WHERE is_current) AS n FROM silver.customers
         WHERE customer_id BETWEEN 20000 AND 20099 GROUP BY 1) x`,
    )
    expect(rows[0]).toEqual({ keys: 100, bad: 0 })
  })
})

describe('dim_date', () => {
  it('covers whole years of the data and never duplicates a day', async () => {
    await runSilver(pool, { log })
    const { rows } = await pool.query(
      `SELECT min(date)::text AS lo, max(date)::text AS hi, count(*)::int AS n, count(DISTINCT date_key)::int AS keys FROM silver.dim_date`,
    )
    expect(rows[0]).toEqual({ lo: '2025-01-01', hi: '2025-12-31', n: 365, keys: 365 })
    const day = await pool.query(`SELECT date_key, day_name, is_weekend FROM silver.dim_date WHERE date = '2025-03-01'`)
    expect(day.rows).toEqual([{ date_key: 20250301, day_name: 'Saturday', is_weekend: true }])
  })
})

describe('safe casts', () => {
  it('return NULL for text that is not a valid value, never an error', async () => {
    const valid = [
      '2024-02-29T10:00:00Z',
      ' 2025-01-01T10:00:00.123+02:00 ',
      '2025-01-01',
      '2025-12-31',
      '2025-12-31 23:59:59-0530',
      '2025-06-30T23:59:59+15:00',
      '2025-01-01T10:00',
    ]
    const invalid = [
      '2025-02-29T10:00:00Z',
      '2025-13-01T00:00:00Z',
      '2025-00-10',
      '2025-04-31',
      '2025-01-00',
      '2025-01-01T24:00:00Z',
      '2025-01-01T10:60:00Z',
      '2025-01-01T10:00:60Z',
      '0000-01-01',
      '2025-01-01T10:00:00+16:00',
      'yesterday',
      '',
      '2025-14-37T61:05',
      '12025-01-01',
    ]
    const { rows } = await pool.query(
      'SELECT t, cairn_meta.try_timestamptz(t) IS NOT NULL AS ok FROM unnest($1::text[]) AS t',
      [[...valid, ...invalid]],
    )
    expect(rows.filter((r) => r.ok).map((r) => r.t)).toEqual(valid)
    // Literal arguments are folded while planning: they must not raise there either.
    const literal = await pool.query(
      `SELECT cairn_meta.try_timestamptz('yesterday') AS a, cairn_meta.try_timestamptz('2025-99-99') AS b`,
    )
    expect(literal.rows[0]).toEqual({ a: null, b: null })
    const numbers = await pool.query(`
      SELECT cairn_meta.try_numeric('12.50') AS a, cairn_meta.try_numeric('12.34.5') AS b, cairn_meta.try_numeric('three') AS c,
             cairn_meta.try_bigint(' -5 ') AS d, cairn_meta.try_bigint('99999999999999999999') AS e, cairn_meta.try_integer('3.0') AS f,
             cairn_meta.try_amount(' 12.5 ') AS g, cairn_meta.try_amount('9999999999.994') AS h, cairn_meta.try_amount('99999999999') AS i,
             cairn_meta.try_integer('0000000000007') AS j, cairn_meta.try_amount('.5') AS k`)
    expect(numbers.rows[0]).toEqual({
      a: '12.50',
      b: null,
      c: null,
      d: '-5',
      e: null,
      f: null,
      g: '12.50',
      h: '9999999999.99',
      i: null,
      j: 7,
      k: '0.50',
    })
  })
})
