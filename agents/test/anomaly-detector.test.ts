import type { Finding, QueryEvent } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { AnomalyDetector, type ScoredInterval } from '../src/anomaly/anomaly-detector.js'
import { explainStatement } from '../src/anomaly/explain-statement.js'
import { FingerprintBaselines } from '../src/anomaly/fingerprint-baselines.js'
import { hostCpuFromSamples } from '../src/anomaly/host-cpu.js'
import { intervalFeatures, intervalSummary } from '../src/anomaly/interval-features.js'
import { IntervalStatistics } from '../src/anomaly/interval-statistics.js'
import { describePlanChange, planShape } from '../src/anomaly/plan-shape.js'
import { useAnomalyDetector } from '../src/anomaly/use-anomaly-detector.js'
import { createTestAgentContext } from './support/agent-context.js'
import { anomalyEvent, anomalyInterval } from './support/anomaly-events.js'

const BY_CUSTOMER = 'SELECT order_id, total FROM public.anomaly_orders WHERE customer_id = $1'
const BY_ID = 'SELECT order_id, total FROM public.anomaly_orders WHERE order_id = $1'
const RECENT = 'SELECT count(*) FROM public.anomaly_orders WHERE order_id > $1'
const TOTALS = 'SELECT customer_id, sum(total) FROM public.anomaly_orders WHERE customer_id < $1 GROUP BY customer_id'
const I = 10_000
const T0 = Date.parse('2025-03-03T14:02:00Z')

/** Ordinary latencies: a little jitter within an interval, a little drift between intervals. */
function ordinary(base: number, k: number): number[] {
  const drift = 1 + 0.08 * Math.sin(k * 1.7)
  return [0.9, 1, 1.1, 1.25, 0.95, 1.05].map((f) => base * f * drift)
}

describe('anomaly detector', () => {
  let database: TestDatabase
  let pool: pg.Pool

  beforeAll(async () => {
    database = await createMigratedTestDatabase('anomaly_detector')
    pool = new pg.Pool({ connectionString: database.url, max: 4 })
    await pool.query(`CREATE TABLE public.anomaly_orders (order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric NOT NULL);
      INSERT INTO public.anomaly_orders SELECT g, g % 2000, g % 300 FROM generate_series(1, 20000) g;
      CREATE INDEX anomaly_orders_customer ON public.anomaly_orders (customer_id);
      ANALYZE public.anomaly_orders`)
  })

  afterAll(async () => {
    await pool?.end()
    await database?.drop()
  })

  it('aggregates an interval into latency percentiles, error rate, QPS and result cache hit rate', () => {
    const stats = new IntervalStatistics({ intervalMs: 1000 })
    const events: QueryEvent[] = []
    for (let i = 0; i < 10; i++)
      events.push(
        anomalyEvent(BY_ID, {
          at: 5000 + i * 100,
          durationMs: i + 1,
          rows: i < 8 ? 2 : 0,
          ...(i >= 8 ? { sqlstate: '57014' } : {}),
          ...(i < 3
            ? { cache: 'hit' as const }
            : i < 5
              ? { cache: 'miss' as const }
              : i < 6
                ? { cache: 'bypass' as const }
                : {}),
        }),
      )
    for (const e of events) stats.add(e)
    stats.add(anomalyEvent(BY_ID, { at: 6100, durationMs: 1 }))
    const [closed, ...rest] = stats.closeUntil(6000)
    expect(rest).toEqual([])
    expect(closed?.start).toBe(5000)
    const f = closed?.fingerprints[0]
    if (!f) throw new Error('no fingerprint in the interval')

    const baselines = new FingerprintBaselines({ minIntervals: 2 })
    const x = intervalFeatures(f, { start: 5000, end: 6000, baseline: baselines.baseline(f.fingerprint) })
    expect(x).toMatchObject({ executions: 10, errors: 2, errorRate: 0.2, qps: 10, topSqlstate: '57014', meanRows: 2 })
    expect(x.p50Ms).toBeCloseTo(4.5)
    expect(x.p95Ms).toBeCloseTo(7.65)
    expect(x.cacheHitRate).toBeCloseTo(0.5)
    expect(x.latencyRatio).toBeNull()

    baselines.record(f.fingerprint, { ...intervalSummary(x), p50Ms: 2 })
    baselines.record(f.fingerprint, { ...intervalSummary(x), p50Ms: 3 })
    const baseline = baselines.baseline(f.fingerprint)
    expect(baseline?.p50Ms).toBe(2.5)
    const vsBaseline = intervalFeatures(f, { start: 5000, end: 6000, baseline })
    expect(vsBaseline).toMatchObject({ expectedMs: 2.5, expectedFrom: 'baseline' })
    expect(vsBaseline.latencyRatio).toBeCloseTo(4.5 / 2.5)
    const vsPrediction = intervalFeatures(f, { start: 5000, end: 6000, baseline, predictedMs: 1.5 })
    expect(vsPrediction).toMatchObject({ expectedMs: 1.5, expectedFrom: 'prediction' })
    expect(vsPrediction.latencyRatio).toBeCloseTo(3)
  })

  it('describes a real plan change from an index scan to a sequential scan', async () => {
    const ctx = createTestAgentContext(pool)
    const event = anomalyEvent(BY_CUSTOMER, { at: T0, durationMs: 1, params: ['42'] })
    const before = await explainStatement(ctx.db, event)
    expect(before.scans[0]).toMatchObject({ relation: 'public.anomaly_orders', index: 'anomaly_orders_customer' })
    const client = await pool.connect()
    try {
      // Dropped in a transaction that is rolled back, and explained in it: the other tests keep the index.
      await client.query('BEGIN')
      await client.query('DROP INDEX public.anomaly_orders_customer')
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON, VERBOSE) ${BY_CUSTOMER}`, ['42'])
      const after = planShape(rows[0]?.['QUERY PLAN'])
      expect(describePlanChange(before, after)).toBe(
        `from ${before.scans[0]?.node} to Seq Scan on public.anomaly_orders`,
      )
      expect(describePlanChange(before, before)).toBeNull()
    } finally {
      await client.query('ROLLBACK')
      client.release()
    }
  })

  it('flags a fingerprint slowed against its baseline, says why, and explains the plan change', async () => {
    const ctx = createTestAgentContext(pool)
    const detector = new AnomalyDetector(
      { db: ctx.db, workers: ctx.workers },
      { intervalMs: I, minTrainingVectors: 12, rules: false },
    )
    const bases: [string, number, string[]][] = [
      [BY_CUSTOMER, 2, ['42']],
      [BY_ID, 1.5, ['7']],
      [RECENT, 6, ['19000']],
      [TOTALS, 12, ['40']],
    ]
    const run = async (k: number, slow: boolean) => {
      for (const [text, base, params] of bases) {
        const durations = slow && text === BY_CUSTOMER ? ordinary(base * 12, k) : ordinary(base, k)
        for (const e of anomalyInterval(text, T0 + k * I, I, 18, durations, { params })) detector.observe(e)
      }
      return detector.evaluate(T0 + (k + 1) * I)
    }
    let quiet: Finding[] = []
    for (let k = 0; k < 10; k++) quiet = (await run(k, false)) as Finding[]
    const summary = quiet.find((f) => f.kind === 'anomaly.summary')
    expect(quiet.filter((f) => f.kind === 'anomaly')).toEqual([])
    expect(summary?.reason).toMatch(/^Checked 4 fingerprints over 1 interval .*: nothing found\. /)
    expect(summary?.reason).toMatch(/stayed within their baselines|still learning/)

    await pool.query('DROP INDEX public.anomaly_orders_customer')
    let findings: Finding[]
    try {
      findings = (await run(10, true)) as Finding[]
    } finally {
      await pool.query('CREATE INDEX anomaly_orders_customer ON public.anomaly_orders (customer_id)')
    }
    const anomalies = findings.filter((f) => f.kind === 'anomaly')
    expect(anomalies).toHaveLength(1)
    const [anomaly] = anomalies
    expect(anomaly?.reason).toMatch(
      /^fingerprint [0-9a-f]{8}… \(SELECT … FROM public\.anomaly_orders WHERE customer_id = \$1\) is 1\d(\.\d)?× slower than expected \(p50 2\d\.\d ms against its usual 2\.\d ms\) since 14:03:40 UTC; plan changed from (Index|Bitmap Heap) Scan to Seq Scan on public\.anomaly_orders$/,
    )
    expect(anomaly?.severity).toBe('critical')
    expect(anomaly?.evidence).toMatchObject({
      signals: ['latency'],
      interval: { start: T0 + 10 * I, end: T0 + 11 * I },
    })
    expect(anomaly?.evidence.score).toBeGreaterThanOrEqual(0.6)
    expect(findings.find((f) => f.kind === 'anomaly.summary')?.reason).toMatch(/: found 1 anomaly \([0-9a-f]{8}\)$/)

    // Still slow in the next interval: the same run of anomalies, "since" its first interval.
    const next = (await run(11, true)).filter((f) => f.kind === 'anomaly')
    expect(next[0]?.reason).toContain('since 14:03:40 UTC')
    expect(next[0]?.reason).toMatch(/plan unchanged \((Index|Bitmap Heap) Scan on public\.anomaly_orders\)/)
  })

  it('judges latency against the prediction when a predictor is given', async () => {
    const ctx = createTestAgentContext(pool)
    const scored: ScoredInterval[] = []
    // The predictor foresees the heavy parameter: the slow interval is expected, so not an anomaly.
    const predictMs = (e: QueryEvent) => (e.params?.[0] === '19999' ? 30 : 6)
    const detector = new AnomalyDetector(
      { db: ctx.db, workers: ctx.workers },
      { intervalMs: I, minTrainingVectors: 12, rules: false, predictMs, onScored: (s) => scored.push(s) },
    )
    for (let k = 0; k < 11; k++) {
      for (const [text, base] of [
        [RECENT, 6],
        [BY_ID, 1.5],
        [TOTALS, 12],
      ] as const) {
        const heavy = k === 10 && text === RECENT
        const params = [heavy ? '19999' : '100']
        for (const e of anomalyInterval(text, T0 + k * I, I, 18, ordinary(heavy ? 30 : base, k), { params }))
          detector.observe(e)
      }
      const findings = await detector.evaluate(T0 + (k + 1) * I)
      expect(findings.filter((f) => f.kind === 'anomaly')).toEqual([])
    }
    const last = scored.filter((s) => s.features.start === T0 + 10 * I && s.features.normalizedText === RECENT)[0]
    expect(last?.features).toMatchObject({ expectedMs: 30, expectedFrom: 'prediction' })
    expect(last?.features.latencyRatio).toBeLessThan(1.5)
    expect(last?.signals).toEqual([])
  })

  it('reads host CPU from the collector samples for an interval', async () => {
    const ctx = createTestAgentContext(pool)
    const hostCpu = hostCpuFromSamples()
    expect(await hostCpu({ from: T0, to: T0 + I }, ctx.db)).toBeNull()
    await pool.query(
      `INSERT INTO cairn_meta.host_samples (at, cpu_percent, mem_used_bytes, mem_total_bytes, load1, host, load5, load15,
         cpu_count, cpu_iowait_percent, interval_seconds)
       SELECT to_timestamp(($1::float8 + s * 1000) / 1000), c, 1, 2, 1, 'db1', 1, 1, 2, 0, 1
         FROM (VALUES (1, 40.0), (2, 80.0), (12, 10.0)) v(s, c)`,
      [T0],
    )
    expect(await hostCpu({ from: T0, to: T0 + I }, ctx.db)).toBeCloseTo(60)
  })

  it('runs as an agent: accumulates in onResult, publishes a summary per interval, stops on its signal', async () => {
    const ctx = createTestAgentContext(pool, 'anomaly-detector')
    const agent = useAnomalyDetector({ intervalMs: 300, lateMs: 0, rules: { minResultCacheLookups: 1_000_000 } })
    const subscription = ctx.events$.subscribe((e) => void agent.onResult?.(e, ctx))
    const teardown = await agent.start?.(ctx)
    try {
      const summaries = () => ctx.published.filter((f) => f.kind === 'anomaly.summary')
      for (let i = 0; i < 40 && !summaries().some((f) => f.reason.startsWith('Checked 1 fingerprint')); i++) {
        ctx.emit(anomalyEvent(BY_ID, { at: Date.now(), durationMs: 1.2, params: ['7'] }))
        await new Promise((r) => setTimeout(r, 50))
      }
      const summary = summaries().find((f) => f.reason.startsWith('Checked 1 fingerprint'))
      expect(summary?.source).toBe('anomaly-detector')
      expect(summary?.reason).toMatch(/: nothing found\. 1 still forming a baseline \(3 intervals needed\)/)
      expect(summary?.reason).toMatch(/rules: .*connections in use/)
      expect(ctx.published.filter((f) => f.kind === 'anomaly')).toEqual([])
    } finally {
      ctx.abort()
      subscription.unsubscribe()
      if (typeof teardown === 'function') await teardown()
    }
    const count = ctx.published.length
    await new Promise((r) => setTimeout(r, 900))
    expect(ctx.published.length).toBe(count)
  })
})
