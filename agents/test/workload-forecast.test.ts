import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { forecastArrivals } from '../src/workload/forecast-arrivals.js'
import { useWorkloadClusterer } from '../src/workload/use-workload-clusterer.js'
import { createTestAgentContext } from './support/agent-context.js'
import { diurnalArrivals } from './support/workload-arrivals.js'
import { prng } from './support/workload-ecommerce.js'

describe('forecastArrivals', () => {
  it('beats repeating the last value on held-back history of a diurnal series, at every horizon', () => {
    // Two weeks of hourly arrivals with a daily rhythm, quieter weekends and noise.
    const series = diurnalArrivals({ days: 14, bucketsPerDay: 24, peak: 120, seed: 7 })
    const forecast = forecastArrivals(series, { horizons: [1, 2, 6], seasonLength: 24 })
    if (!forecast.ok) throw new Error(forecast.reason)
    expect(forecast.season).toBe(24)
    expect(forecast.horizons.map((h) => h.horizon)).toEqual([1, 2, 6])
    for (const h of forecast.horizons) {
      expect(h.heldBack.ensemble.points).toBe(67)
      expect(h.heldBack.ensemble.mae).toBeLessThan(h.heldBack.naive.mae)
      expect(h.heldBack.ensemble.smape).toBeLessThan(h.heldBack.naive.smape)
      expect(Object.values(h.weights).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9)
    }
    expect(forecast.heldBack.ensemble.mae).toBeLessThan(0.6 * forecast.heldBack.naive.mae)
    // The ensemble is at least as good as its best member here.
    const members = Object.values(forecast.heldBack.members).map((e) => e.mae)
    expect(forecast.heldBack.ensemble.mae).toBeLessThanOrEqual(Math.min(...members))
  })

  it('finds no season in a series without one, and says when a series is too short', () => {
    const r = prng(4)
    const flat = Array.from({ length: 200 }, () => Math.round(50 + 10 * (r() - 0.5)))
    const forecast = forecastArrivals(flat, { horizons: [1, 2], seasonLength: 24 })
    if (!forecast.ok) throw new Error(forecast.reason)
    expect(forecast.season).toBeNull()
    expect(Object.keys(forecast.horizons[0]?.weights ?? {}).sort()).toEqual(['holt', 'regression'])
    for (const h of forecast.horizons) expect(Math.abs(h.predicted - 50)).toBeLessThan(8)

    expect(forecastArrivals([3, 4, 5, 6, 7, 8, 9, 10], { horizons: [1, 2, 6], seasonLength: 24 })).toEqual({
      ok: false,
      points: 8,
      reason: '8 buckets of history; forecasting needs at least 33',
    })
  })
})

const MINUTE = 60_000
/** A "day" of 24 one-minute buckets, ten of them: the production shape (hourly buckets, daily season) at 1/60 scale. */
const BUCKETS_PER_DAY = 24
const DAYS = 10
const T_END = Date.UTC(2026, 2, 2, 0, 0, 0)
const T_START = T_END - DAYS * BUCKETS_PER_DAY * MINUTE

const TEMPLATES = [
  { sql: 'SELECT status FROM silver.orders WHERE order_id = 42', rows: 1, ms: 0.4, peak: 9, columns: ['predicate'] },
  {
    sql: 'SELECT email FROM silver.customers WHERE customer_id = 7',
    rows: 1,
    ms: 0.5,
    peak: 7,
    columns: ['predicate'],
  },
  { sql: 'SELECT price FROM silver.products WHERE product_id = 3', rows: 1, ms: 0.3, peak: 8, columns: ['predicate'] },
  {
    sql: 'SELECT country, sum(total_amount) FROM silver.orders GROUP BY country',
    rows: 5,
    ms: 40,
    peak: 3,
    columns: ['groupBy'],
  },
  {
    sql: 'SELECT category, count(*) FROM silver.order_items JOIN silver.products USING (product_id) GROUP BY category',
    rows: 6,
    ms: 60,
    peak: 2,
    columns: ['join', 'join', 'groupBy'],
  },
  {
    sql: 'SELECT device, count(*) FROM silver.clickstream_events GROUP BY device',
    rows: 3,
    ms: 30,
    peak: 2,
    columns: ['groupBy'],
  },
]

describe('workload clusterer forecasts', () => {
  let db: TestDatabase
  let pool: pg.Pool

  beforeAll(async () => {
    db = await createMigratedTestDatabase('workload_forecast')
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
    // The history lies outside the days the proxy's partitions cover: a default partition holds it.
    await pool.query('CREATE TABLE cairn_meta.query_events_history PARTITION OF cairn_meta.query_events DEFAULT')
    const r = prng(21)
    const events: {
      at: number
      fp: string
      sql: string
      relations: string[]
      ms: number
      rows: number
      columns: string
    }[] = []
    TEMPLATES.forEach((t, i) => {
      const counts = diurnalArrivals({ days: DAYS, bucketsPerDay: BUCKETS_PER_DAY, peak: t.peak, seed: 100 + i })
      counts.forEach((n, bucket) => {
        for (let k = 0; k < n; k++) {
          events.push({
            at: T_START + bucket * MINUTE + ((k + r()) / n) * MINUTE,
            fp: `fp${i}`,
            sql: t.sql,
            relations: t.sql.match(/silver\.\w+/g) ?? [],
            ms: t.ms * (0.8 + 0.4 * r()),
            rows: t.rows,
            columns: JSON.stringify(t.columns.map((role) => ({ relation: null, column: 'c', role }))),
          })
        }
      })
    })
    await pool.query(
      `INSERT INTO cairn_meta.query_events (at, database, user_name, application_name, session_id, fingerprint,
         normalized_text, statement_text, kind, relations_read, relations_written, deterministic, duration_ms,
         pool_wait_ms, rows, bytes_out, columns)
       SELECT to_timestamp(a / 1000.0), 'cairn', 'analyst', 'dashboards', 's1', f, s, s, 'select',
              ARRAY(SELECT jsonb_array_elements_text(rel)), '{}', true, d, 0, r, 0, c
       FROM unnest($1::float8[], $2::text[], $3::text[], $4::jsonb[], $5::float8[], $6::int8[], $7::jsonb[])
         AS t(a, f, s, rel, d, r, c)`,
      [
        events.map((e) => e.at),
        events.map((e) => e.fp),
        events.map((e) => e.sql),
        events.map((e) => JSON.stringify(e.relations)),
        events.map((e) => e.ms),
        events.map((e) => e.rows),
        events.map((e) => e.columns),
      ],
    )
  })

  afterAll(async () => {
    await pool?.end()
    await db?.drop()
  })

  it('clusters and forecasts from the persisted event history, and beats the naive baseline on held-back history', async () => {
    const clusterer = useWorkloadClusterer({
      pool,
      now: () => T_END + 5_000,
      bucketMs: MINUTE,
      seasonMs: BUCKETS_PER_DAY * MINUTE,
      windowBuckets: DAYS * BUCKETS_PER_DAY,
      minFingerprints: 4,
      horizons: [1, 2, 6],
    })
    const ctx = createTestAgentContext(pool, 'workload-clusterer')
    const teardown = await clusterer.agent.start?.(ctx)
    await clusterer.refresh()
    ctx.abort()
    if (typeof teardown === 'function') await teardown()

    const lookups = clusterer.clusterOf('fp0')
    expect(['fp1', 'fp2'].map((fp) => clusterer.clusterOf(fp)?.id)).toEqual([lookups?.id, lookups?.id])
    expect(['fp3', 'fp4', 'fp5'].map((fp) => clusterer.clusterOf(fp)?.id)).not.toContain(lookups?.id)

    const forecasts = ctx.published.filter((f) => f.kind === 'workload.forecast')
    // The second refresh found nothing new to say: one forecast per bucket.
    expect(forecasts).toHaveLength(1)
    const [forecast] = forecasts
    expect(forecast?.reason).toMatch(/^Next minute: about \d+ statements expected across \d clusters/)
    expect(forecast?.reason).toMatch(
      /On held-back history the ensemble's mean absolute error was [\d.]+ statements per bucket/,
    )
    const evidence = forecast?.evidence as {
      clusters: {
        id: number
        season: number | null
        horizons: { horizon: number; predicted: number; heldBack: { mae: number; naiveMae: number } }[]
        heldBack: { mae: number; naiveMae: number; smape: number; naiveSmape: number }
      }[]
    }
    expect(evidence.clusters.length).toBe(clusterer.clusters().length)
    for (const c of evidence.clusters) {
      expect(c.season).toBe(BUCKETS_PER_DAY)
      expect(c.horizons.map((h) => h.horizon)).toEqual([1, 2, 6])
      expect(c.heldBack.mae).toBeLessThan(c.heldBack.naiveMae)
      expect(c.heldBack.smape).toBeLessThan(c.heldBack.naiveSmape)
    }
    const { rows } = await pool.query<{ n: number; horizons: number[] }>(
      `SELECT count(*)::int AS n, array_agg(DISTINCT horizon ORDER BY horizon) AS horizons
       FROM cairn_meta.workload_forecasts WHERE bucket_ms = $1`,
      [MINUTE],
    )
    expect(rows[0]).toEqual({ n: evidence.clusters.length * 3, horizons: [1, 2, 6] })
  })
})
