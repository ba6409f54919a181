import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { AnomalyDetector } from '../src/anomaly/anomaly-detector.js'
import { ThresholdRules } from '../src/anomaly/threshold-rules.js'
import { createTestAgentContext } from './support/agent-context.js'
import { anomalyInterval } from './support/anomaly-events.js'

/** Runs statements on a connection of its own, then flushes its statistics so other sessions see them. */
async function onOwnConnection(url: string, statements: (c: pg.Client) => Promise<void>): Promise<void> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    await statements(c)
    // Pending statistics are flushed when the backend next goes idle; this makes it flush now.
    await c.query('SELECT pg_stat_force_next_flush()')
  } finally {
    await c.end()
  }
}

describe('anomaly threshold rules', () => {
  let database: TestDatabase
  let pool: pg.Pool

  beforeAll(async () => {
    database = await createMigratedTestDatabase('anomaly_rules')
    pool = new pg.Pool({ connectionString: database.url, max: 4 })
  })

  afterAll(async () => {
    await pool?.end()
    await database?.drop()
  })

  it('finds nothing on a quiet database with the default thresholds, and says what it checked', async () => {
    const ctx = createTestAgentContext(pool)
    const rules = new ThresholdRules()
    const first = await rules.evaluate(ctx.db, { hits: 0, lookups: 0 })
    expect(first.findings).toEqual([])
    expect(first.checks.map((c) => c.rule).sort()).toEqual([
      'buffer-cache-hit-ratio',
      'connections',
      'dead-tuples',
      'deadlocks',
      'replication-lag',
      'result-cache-hit-ratio',
    ])
    expect(first.checks.find((c) => c.rule === 'replication-lag')?.detail).toBe(
      'replication lag not applicable (no standby connected)',
    )
    expect(first.checks.find((c) => c.rule === 'deadlocks')?.detail).toMatch(/first snapshot/)
    const second = await rules.evaluate(ctx.db, { hits: 0, lookups: 0 })
    expect(second.findings).toEqual([])
    expect(second.checks.find((c) => c.rule === 'deadlocks')?.detail).toBe('no new deadlocks')
  })

  it('fires on dead tuples after a real mass DELETE on a table with autovacuum off', async () => {
    await onOwnConnection(database.url, async (c) => {
      await c.query(`CREATE TABLE public.cart_events (id bigint PRIMARY KEY, payload text NOT NULL)
        WITH (autovacuum_enabled = false)`)
      await c.query(`INSERT INTO public.cart_events SELECT g, md5(g::text) FROM generate_series(1, 20000) g`)
      await c.query('DELETE FROM public.cart_events WHERE id > 4000')
    })
    const ctx = createTestAgentContext(pool)
    const detector = new AnomalyDetector({ db: ctx.db, workers: ctx.workers }, { intervalMs: 10_000 })
    const at = Date.parse('2025-03-03T14:00:00Z')
    for (const e of anomalyInterval('SELECT count(*) FROM public.cart_events', at, 10_000, 5, [3])) detector.observe(e)
    const findings = await detector.evaluate(at + 10_000)
    const rule = findings.find((f) => f.kind === 'anomaly.rule')
    expect(rule?.evidence).toMatchObject({
      rule: 'dead-tuples',
      table: 'public.cart_events',
      deadTuples: 16000,
      liveTuples: 4000,
      autovacuumEnabled: false,
    })
    expect(rule?.reason).toBe(
      'public.cart_events holds 16000 dead tuples against 4000 live ones (400 %, above 20 %) and autovacuum is disabled for it: scans read the dead rows too; VACUUM it or tune its autovacuum',
    )
    const summary = findings.find((f) => f.kind === 'anomaly.summary')
    expect(summary?.reason).toMatch(/: found 1 rule fired \(dead-tuples\)$/)
    await pool.query('DROP TABLE public.cart_events')
  })

  it('fires on a real deadlock between two transactions', async () => {
    const ctx = createTestAgentContext(pool)
    await pool.query(`CREATE TABLE public.stock (sku int PRIMARY KEY, quantity int NOT NULL);
      INSERT INTO public.stock VALUES (1, 10), (2, 10)`)
    const rules = new ThresholdRules()
    await rules.evaluate(ctx.db, { hits: 0, lookups: 0 })

    const a = new pg.Client({ connectionString: database.url })
    const b = new pg.Client({ connectionString: database.url })
    await Promise.all([a.connect(), b.connect()])
    try {
      for (const c of [a, b]) await c.query("SET deadlock_timeout = '100ms'")
      await a.query('BEGIN; UPDATE public.stock SET quantity = quantity - 1 WHERE sku = 1')
      await b.query('BEGIN; UPDATE public.stock SET quantity = quantity - 1 WHERE sku = 2')
      // Each now waits for the row the other holds: PostgreSQL breaks the cycle by failing one.
      const outcomes = await Promise.allSettled([
        a.query('UPDATE public.stock SET quantity = quantity - 1 WHERE sku = 2'),
        b.query('UPDATE public.stock SET quantity = quantity - 1 WHERE sku = 1'),
      ])
      const failed = outcomes.filter((o) => o.status === 'rejected')
      expect(failed.map((o) => (o as PromiseRejectedResult).reason.code)).toEqual(['40P01'])
      for (const c of [a, b]) {
        await c.query('ROLLBACK')
        await c.query('SELECT pg_stat_force_next_flush()')
      }
    } finally {
      await Promise.all([a.end(), b.end()])
    }

    const { findings, checks } = await rules.evaluate(ctx.db, { hits: 0, lookups: 0 })
    expect(findings.map((f) => f.evidence.rule)).toEqual(['deadlocks'])
    expect(findings[0]?.reason).toMatch(
      /^1 new deadlock since the previous check \(pg_stat_database\.deadlocks went from \d+ to \d+\)/,
    )
    expect(checks.find((c) => c.rule === 'deadlocks')?.fired).toBe(true)
  })

  it('fires on connections above the configured share of max_connections', async () => {
    const ctx = createTestAgentContext(pool)
    const clients = [1, 2, 3].map(() => new pg.Client({ connectionString: database.url }))
    await Promise.all(clients.map((c) => c.connect()))
    try {
      const { rows } = await pool.query<{ max: number }>(`SELECT current_setting('max_connections')::int AS max`)
      const max = rows[0]?.max ?? 100
      // A share just under three connections: the three clients held open make it fire.
      const { findings } = await new ThresholdRules({ connectionsFraction: 2.5 / max }).evaluate(ctx.db, {
        hits: 0,
        lookups: 0,
      })
      const fired = findings.find((f) => f.evidence.rule === 'connections')
      expect(fired?.evidence.connections).toBeGreaterThanOrEqual(3)
      expect(fired?.reason).toMatch(new RegExp(`^\\d+ of ${max} connections in use`))
    } finally {
      await Promise.all(clients.map((c) => c.end()))
    }
  })

  it('fires on a result cache hit ratio below target, judged only over enough lookups', async () => {
    const ctx = createTestAgentContext(pool)
    const rules = new ThresholdRules({ minResultCacheHitRatio: 0.5, minResultCacheLookups: 50 })
    const low = await rules.evaluate(ctx.db, { hits: 10, lookups: 100 })
    expect(low.findings.find((f) => f.evidence.rule === 'result-cache-hit-ratio')?.reason).toBe(
      'result cache hit ratio 10 % over 100 lookups, below the 50 % target: entries are invalidated or evicted faster than they are reused',
    )
    const few = await rules.evaluate(ctx.db, { hits: 1, lookups: 20 })
    expect(few.findings.filter((f) => f.evidence.rule === 'result-cache-hit-ratio')).toEqual([])
    expect(few.checks.find((c) => c.rule === 'result-cache-hit-ratio')?.detail).toBe(
      'result cache hit ratio not judged (20 lookups, fewer than 50)',
    )
  })
})
