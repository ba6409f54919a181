import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import type { ProposedAction } from '../src/actuator/proposed-action.js'
import type { ActionVerdict } from '../src/actuator/retry-rule.js'
import { adviseIndexes, type IndexAdvice } from '../src/indexes/index-advisor.js'
import type { StatementEvidence } from '../src/indexes/index-recommendation.js'
import { useIndexAdvisor } from '../src/indexes/use-index-advisor.js'
import { createTestAgentContext } from './support/agent-context.js'
import { createShop, ensureEventPartition, insertWorkload, type TemplateSpec } from './support/index-workload.js'

const HOUR = 3_600_000
const T0 = Date.now()
/** Each scenario's workload lives in its own hour, and each analysis reads only that hour. */
const windows = {
  main: T0,
  partial: T0 - 2 * HOUR,
  nothing: T0 - 4 * HOUR,
  writes: T0 - 6 * HOUR,
  bypass: T0 - 8 * HOUR,
  brin: T0 - 10 * HOUR,
}
const budget = 100 * 1024 * 1024

let db: TestDatabase
let pool: pg.Pool

const statuses = ['paid', 'new', 'shipped', 'cancelled']
const customerLookup: TemplateSpec = {
  fingerprint: 'customer-lookup',
  normalizedText: 'select id, status, total from shop.orders where customer_id = $1',
  relationsRead: ['shop.orders'],
  columns: [{ relation: 'shop.orders', column: 'customer_id', role: 'predicate' }],
  statement: (i) => ({
    text: 'SELECT id, status, total FROM shop.orders WHERE customer_id = $1',
    params: [String((i * 7) % 20_000)],
  }),
  calls: 1_200,
  // Durations as a loaded server might see them (fixed, so the weights do not depend on this machine's speed).
  meanMs: 20,
}
const regionStatus: TemplateSpec = {
  fingerprint: 'region-status-count',
  normalizedText: 'select count(*) from shop.orders where region = $1 and status = $2',
  relationsRead: ['shop.orders'],
  columns: [
    { relation: 'shop.orders', column: 'region', role: 'predicate' },
    { relation: 'shop.orders', column: 'status', role: 'predicate' },
  ],
  statement: (i) => ({
    text: 'SELECT count(*) FROM shop.orders WHERE region = $1 AND status = $2',
    params: [`region-${i % 20}`, statuses[i % 4] as string],
  }),
  calls: 2_000,
  meanMs: 30,
}
const paidByCustomer: TemplateSpec = {
  fingerprint: 'paid-by-customer',
  normalizedText: 'select id, total from shop.orders where status = $1 and customer_id = $2',
  relationsRead: ['shop.orders'],
  columns: [
    { relation: 'shop.orders', column: 'status', role: 'predicate' },
    { relation: 'shop.orders', column: 'customer_id', role: 'predicate' },
  ],
  statement: (i) => ({
    text: `SELECT id, total FROM shop.orders WHERE status = 'paid' AND customer_id = ${(i * 13) % 20_000}`,
    params: null,
  }),
  calls: 1_500,
}
const smallLookup: TemplateSpec = {
  fingerprint: 'small-lookup',
  normalizedText: 'select id from shop.small where label = $1',
  relationsRead: ['shop.small'],
  columns: [{ relation: 'shop.small', column: 'label', role: 'predicate' }],
  statement: (i) => ({ text: 'SELECT id FROM shop.small WHERE label = $1', params: [`label-${(i % 50) + 1}`] }),
  calls: 500,
}
const ordersOverTotal: TemplateSpec = {
  fingerprint: 'orders-over-total',
  normalizedText: 'select * from shop.orders where total > $1',
  relationsRead: ['shop.orders'],
  columns: [{ relation: 'shop.orders', column: 'total', role: 'predicate' }],
  // Every order is over 0.5: no index narrows that down.
  statement: () => ({ text: 'SELECT * FROM shop.orders WHERE total > $1', params: ['0.5'] }),
  calls: 300,
}
const dailyTotals: TemplateSpec = {
  fingerprint: 'daily-totals',
  normalizedText: 'select sum(total) from shop.orders where created_at >= $1 and created_at < $2',
  relationsRead: ['shop.orders'],
  columns: [{ relation: 'shop.orders', column: 'created_at', role: 'predicate' }],
  statement: (i) => {
    const day = Date.parse('2026-01-01T00:00:00Z') + (i % 120) * 86_400_000
    return {
      text: 'SELECT sum(total) FROM shop.orders WHERE created_at >= $1 AND created_at < $2',
      params: [new Date(day).toISOString(), new Date(day + 86_400_000).toISOString()],
    }
  },
  calls: 600,
}
const bulkLoad: TemplateSpec = {
  fingerprint: 'orders-bulk-load',
  normalizedText: 'insert into shop.orders select * from staging.orders',
  kind: 'insert',
  relationsRead: [],
  relationsWritten: ['shop.orders'],
  columns: [],
  statement: () => ({ text: 'INSERT INTO shop.orders SELECT * FROM staging.orders', params: null }),
  calls: 1_000,
  rows: 20_000,
  meanMs: 400,
}

beforeAll(async () => {
  db = await createMigratedTestDatabase('indexadv')
  pool = new pg.Pool({ connectionString: db.url, max: 3 })
  await pool.query('SELECT cairn_meta.maintain_query_event_partitions(1, 7)')
  // Each window may start on the day before (near midnight UTC).
  for (const at of Object.values(windows)) await ensureEventPartition(pool, at - HOUR)
  await createShop(pool)
  // Indexes for the drops: a duplicate and a prefix of another owned by Cairn, an unused one of Cairn's, and the
  // primary key, a unique constraint's index and an index Cairn did not create, all unused.
  await pool.query(`
    CREATE INDEX orders_channel_idx ON shop.orders (channel);
    CREATE INDEX cairn_orders_channel ON shop.orders (channel);
    CREATE INDEX orders_coupon_channel_idx ON shop.orders (coupon, channel);
    CREATE INDEX cairn_orders_coupon ON shop.orders (coupon);
    CREATE INDEX cairn_orders_channel_partial ON shop.orders (channel) WHERE coupon IS NOT NULL;
  `)
  await pool.query(
    `INSERT INTO cairn_meta.index_usage (indexrelid, schema_name, table_name, index_name, idx_scan, unchanged_since, checked_at)
     SELECT s.indexrelid, s.schemaname, s.relname, s.indexrelname, s.idx_scan, now() - interval '8 days', now()
       FROM pg_stat_user_indexes s
      WHERE s.schemaname = 'shop'
        AND s.indexrelname IN ('orders_pkey', 'orders_ref_key', 'orders_channel_idx', 'cairn_orders_channel_partial')`,
  )
  await insertWorkload(pool, {
    from: windows.main - HOUR,
    until: windows.main,
    templates: [customerLookup, regionStatus],
  })
  await insertWorkload(pool, { from: windows.partial - HOUR, until: windows.partial, templates: [paidByCustomer] })
  await insertWorkload(pool, {
    from: windows.nothing - HOUR,
    until: windows.nothing,
    templates: [smallLookup, ordersOverTotal],
  })
  await insertWorkload(pool, {
    from: windows.writes - HOUR,
    until: windows.writes,
    templates: [{ ...customerLookup, calls: 60 }, bulkLoad],
  })
  await insertWorkload(pool, { from: windows.brin - HOUR, until: windows.brin, templates: [dailyTotals] })
  // Work that bypassed the proxy, as the collectors sample pg_stat_statements: one statement the proxy never
  // saw, and one it did (the same text in another case), which must not count twice.
  await insertWorkload(pool, { from: windows.bypass - HOUR, until: windows.bypass, templates: [smallLookup] })
  await pool.query(
    `INSERT INTO cairn_meta.statement_texts (queryid, query, first_seen) VALUES
       (4242, 'SELECT id, total FROM shop.orders WHERE customer_id = $1', now()),
       (4343, 'select id from shop.small where label = $1', now())`,
  )
  await pool.query(
    `INSERT INTO cairn_meta.stat_statements_samples
       (at, interval_seconds, queryid, dbid, userid, calls, total_exec_time_ms, rows, shared_blks_hit,
        shared_blks_read, temp_blks_read, temp_blks_written)
     SELECT to_timestamp($1::float8 / 1000) - n * interval '10 minutes', 600, q.id,
            (SELECT oid FROM pg_database WHERE datname = current_database()), 10, 500, 500 * 20, 5000, 0, 0, 0, 0
       FROM generate_series(0, 5) n, (VALUES (4242), (4343)) q(id)`,
    [windows.bypass],
  )
})

afterAll(async () => {
  if (pool) {
    // pool.end() resolves before its connections have closed; the database is dropped only once they have.
    let open = pool.totalCount
    const closed = new Promise<void>((resolve) => {
      if (open === 0) resolve()
      pool.on('remove', () => {
        if (--open <= 0) resolve()
      })
    })
    await pool.end()
    await closed
  }
  await db?.drop()
})

const advise = (now: number, extra: Partial<Parameters<typeof adviseIndexes>[0]> = {}): Promise<IndexAdvice> =>
  adviseIndexes({ databaseUrl: db.url, now, windowMs: HOUR, storageBudgetBytes: budget, ...extra })

const creates = (advice: IndexAdvice) => advice.recommendations.filter((r) => r.kind === 'index.create')
const drops = (advice: IndexAdvice) => advice.recommendations.filter((r) => r.kind === 'index.drop')
const definitionOf = (r: { evidence: Record<string, unknown> }) =>
  r.evidence.definition as { keys: string[]; include: string[]; predicate?: string }

describe('index advisor', () => {
  let main: IndexAdvice

  beforeAll(async () => {
    main = await advise(windows.main)
  })

  it('recommends an index on customer_id for customer lookups, with its reason and costs before and after', () => {
    const lookup = creates(main).find((r) => r.affectedFingerprints.includes('customer-lookup'))
    expect(lookup).toBeDefined()
    const r = lookup as ProposedAction
    expect(definitionOf(r).keys[0]).toBe('customer_id')
    expect(r.relation).toBe('shop.orders')
    expect(r.reason).toMatch(
      /^An index on shop\.orders \(customer_id[^)]*\).* would make 1 statement [\d.]+× cheaper: [\d,]+ → [\d,]+ cost units per call, weighted [\d,]+ calls\/h/,
    )
    const [statement] = r.evidence.statements as { fingerprint: string; costBefore: number; costAfter: number }[]
    expect(statement?.fingerprint).toBe('customer-lookup')
    expect(statement?.costAfter).toBeLessThan((statement?.costBefore ?? 0) / 10)
    expect(r.apply).toEqual({
      sql: expect.stringMatching(
        /^CREATE INDEX CONCURRENTLY "cairn_orders_customer_id\w*" ON "shop"\."orders" USING btree \("customer_id"/,
      ),
      concurrently: true,
    })
    expect(r.rollback.sql).toMatch(/^DROP INDEX CONCURRENTLY "shop"\."cairn_orders_customer_id\w*"$/)
    expect(r.sizeBytes).toBeGreaterThan(0)
    expect(r.predictedBenefitMs).toBeGreaterThan(0)
    expect(r.source).toBe('index-advisor')
  })

  it('widens a chosen index when a two-column filter dominates', () => {
    const widened = main.steps.find((s) => s.action === 'widen' && s.key.includes('(region, status)'))
    expect(widened?.from).toBe('index.create:shop.orders(region)')
    const r = creates(main).find((x) => x.affectedFingerprints.includes('region-status-count'))
    expect(definitionOf(r as ProposedAction).keys).toEqual(['region', 'status'])
    expect(r?.reason).toContain('widened shop.orders (region) into shop.orders (region, status)')
    // The single-column index it grew from is not recommended beside it, and says why.
    expect(main.rejected.find((x) => x.key === 'index.create:shop.orders(region)')?.reason).toMatch(
      /widened it into shop\.orders \(region, status\)/,
    )
  })

  it('lists every candidate it did not recommend with a reason', () => {
    const unrecommended = main.rejected.filter((r) => r.kind === 'index.create')
    expect(unrecommended.length).toBeGreaterThan(0)
    for (const r of unrecommended) expect(r.reason.length).toBeGreaterThan(10)
    expect(main.summary).toMatch(/^Recommended 2 new index\(es\)/)
  })

  it('drops a duplicate, a subsumed and an unused index of its own, never a primary key, a unique constraint or an index it does not own', () => {
    const dropped = Object.fromEntries(drops(main).map((r) => [r.evidence.index, r]))
    expect(Object.keys(dropped).sort()).toEqual([
      'cairn_orders_channel',
      'cairn_orders_channel_partial',
      'cairn_orders_coupon',
    ])
    expect(dropped.cairn_orders_channel?.reason).toMatch(/duplicates shop\.orders_channel_idx/)
    expect(dropped.cairn_orders_coupon?.reason).toMatch(
      /is a prefix of shop\.orders_coupon_channel_idx \(coupon, channel\)/,
    )
    expect(dropped.cairn_orders_channel_partial?.reason).toMatch(/was not scanned in 8\.0 days/)
    expect(dropped.cairn_orders_channel_partial?.apply.sql).toBe(
      'DROP INDEX CONCURRENTLY "shop"."cairn_orders_channel_partial"',
    )
    expect(dropped.cairn_orders_channel_partial?.rollback.sql).toBe(
      'CREATE INDEX CONCURRENTLY cairn_orders_channel_partial ON shop.orders USING btree (channel) WHERE (coupon IS NOT NULL)',
    )
    const kept = Object.fromEntries(
      main.rejected.filter((r) => r.kind === 'index.drop').map((r) => [r.index, r.reason]),
    )
    expect(kept['shop.orders_pkey']).toMatch(/kept: it backs the primary key$/)
    expect(kept['shop.orders_ref_key']).toMatch(/kept: it backs a unique constraint$/)
    expect(kept['shop.orders_channel_idx']).toMatch(/kept: Cairn did not create it/)
  })

  it('may drop an index it does not own when the policy allows', async () => {
    const advice = await advise(windows.main, { allowDropsOfUnowned: true, maxIndexes: 0 })
    const names = drops(advice).map((r) => r.evidence.index)
    expect(names).toContain('orders_channel_idx')
    expect(names).not.toContain('orders_pkey')
    expect(names).not.toContain('orders_ref_key')
  })

  it('recommends a partial index when every statement filters on the same literal', async () => {
    const advice = await advise(windows.partial)
    const [r] = creates(advice)
    expect(definitionOf(r as ProposedAction)).toMatchObject({ keys: ['customer_id'], predicate: `"status" = 'paid'` })
    expect(r?.key).toBe(`index.create:shop.orders(customer_id) where "status" = 'paid'`)
    expect(r?.reason).toMatch(/^A partial index on shop\.orders \(customer_id\) WHERE "status" = 'paid'/)
    // Its DDL runs as it is, and so does its rollback.
    await pool.query(r?.apply.sql as string)
    const built = await pool.query<{ valid: boolean }>(
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'shop.cairn_orders_customer_id_partial'::regclass`,
    )
    expect(built.rows[0]?.valid).toBe(true)
    await pool.query(r?.rollback.sql as string)
    expect((await pool.query(`SELECT to_regclass('shop.cairn_orders_customer_id_partial') AS c`)).rows[0]?.c).toBeNull()
  })

  it('recommends a BRIN index for ranges over a large table in the order of a column when a B-tree does not fit', async () => {
    // With room for it, the B-tree saves more than the BRIN chosen before it, which then goes.
    const roomy = await advise(windows.brin)
    expect(creates(roomy).map((r) => r.key)).toEqual(['index.create:shop.orders(created_at)'])
    expect(roomy.steps.map((s) => s.key)).toEqual([
      'index.create:shop.orders(created_at) using brin',
      'index.create:shop.orders(created_at)',
    ])
    expect(roomy.rejected.find((r) => r.key === 'index.create:shop.orders(created_at) using brin')?.reason).toMatch(
      /^chosen first, then made redundant by shop\.orders \(created_at\)/,
    )
    const advice = await advise(windows.brin, { storageBudgetBytes: 4 * 1024 * 1024 })
    const [r] = creates(advice)
    expect(r?.apply.sql).toBe(
      'CREATE INDEX CONCURRENTLY "cairn_orders_created_at_brin" ON "shop"."orders" USING brin ("created_at")',
    )
    expect(r?.reason).toMatch(/^A BRIN index on shop\.orders \(created_at\) would make 1 statement/)
    expect(r?.sizeBytes).toBeLessThan(100 * 1024)
  })

  it('refines the predicted benefit with a latency model when one is given', async () => {
    const seen: string[] = []
    const advice = await advise(windows.partial, {
      // A stand-in model: a millisecond per thousand cost units of the plan's root.
      predictMs: (plan, statement) => {
        seen.push(statement.fingerprint)
        return ((plan as { Plan: { 'Total Cost': number } }[])[0]?.Plan['Total Cost'] ?? 0) / 1000
      },
    })
    const [r] = creates(advice)
    expect(seen).toContain('paid-by-customer')
    expect(r?.evidence.predictedBy).toBe('latency model')
    const [statement] = (r?.evidence.statements ?? []) as StatementEvidence[]
    const { costBefore, costAfter, callsPerHour } = statement as StatementEvidence
    expect(r?.predictedBenefitMs).toBeCloseTo((callsPerHour * (costBefore - costAfter)) / 1000, 0)
    expect(r?.evidence.costRatioBenefitMs).toBeGreaterThan(0)
  })

  it('rejects a candidate over the storage budget with that reason', async () => {
    const advice = await advise(windows.main, { storageBudgetBytes: 4 * 1024 * 1024 })
    expect(creates(advice)).toEqual([])
    const customer = advice.rejected.find((r) => r.key === 'index.create:shop.orders(customer_id)')
    expect(customer?.reason).toMatch(
      /^it exceeds the storage budget: it needs [\d.]+ MB, and [\d.]+ (k|M)B of 4\.0 MB is left \(Cairn's existing indexes take [\d.]+ MB\)/,
    )
  })

  it('does not recommend a candidate its past verdict ruled out, and says why', async () => {
    const key = 'index.create:shop.orders(customer_id)'
    const verdict: ActionVerdict = {
      key,
      actionId: '1',
      kind: 'index.create',
      relation: 'shop.orders',
      verdict: 'rolled_back',
      reason: 'measured 2 % slower',
      predictedBenefitMs: 1e9,
      measuredBenefitMs: -100,
      weightedRatio: 1.02,
      attempts: 1,
      decidedAt: windows.main - 86_400_000,
      details: {},
    }
    const asked: string[] = []
    const advice = await advise(windows.main, {
      verdictFor: (k) => {
        asked.push(k)
        return k === key ? verdict : undefined
      },
    })
    expect(asked).toContain(key)
    expect(advice.recommendations.map((r) => r.key)).not.toContain(key)
    const day = new Date(verdict.decidedAt).toISOString().slice(0, 10)
    expect(advice.rejected.find((r) => r.key === key)?.reason).toMatch(
      new RegExp(`^rolled back on ${day}: measured 2 % slower \\(it may be proposed again after`),
    )
  })

  it('subtracts the upkeep of an index on a write-heavy table from what it saves', async () => {
    const advice = await advise(windows.writes)
    expect(creates(advice)).toEqual([])
    expect(advice.rejected.find((r) => r.key === 'index.create:shop.orders(customer_id)')?.reason).toMatch(
      /^its upkeep on [\d,]+ writes\/h \(~[\d.]+ \w+\/h\) outweighs the [\d.]+ \w+\/h it saves/,
    )
  })

  it('costs work that bypassed the proxy with a generic plan, and does not count what the proxy saw twice', async () => {
    const advice = await advise(windows.bypass)
    expect(advice.considered.bypassingTemplates).toBe(1)
    const r = creates(advice).find((x) => x.affectedFingerprints.includes('pgss:4242'))
    expect(definitionOf(r as ProposedAction).keys[0]).toBe('customer_id')
    expect(r?.reason).toMatch(/weighted 3,000 calls\/h/)
  })

  it('says why nothing was recommended when nothing helps', async () => {
    const advice = await advise(windows.nothing)
    expect(creates(advice)).toEqual([])
    expect(advice.summary).toMatch(
      /^No new index recommended: of 2 candidate\(s\) on 2 table\(s\) for 2 statement template\(s\)/,
    )
    expect(advice.summary).toContain(
      'shop.small (label): shop.small has only 1 page(s): reading it whole is as cheap as any index',
    )
    expect(advice.summary).toContain(
      'shop.orders (total): the planner would use it for none of the statements on the table',
    )
  })
})

describe('the index advisor agent', () => {
  it('publishes recommendations and a summary, proposes each to the actuator and remembers index usage', async () => {
    const proposed: ProposedAction[] = []
    const ctx = createTestAgentContext(pool, 'index-advisor')
    const agent = useIndexAdvisor({
      databaseUrl: db.url,
      pool,
      now: windows.main,
      windowMs: HOUR,
      storageBudgetBytes: budget,
      propose: async (action) => {
        proposed.push(action)
      },
    })
    await agent.start?.(ctx)
    await waitFor(() => ctx.published.some((f) => f.kind === 'index.summary') && proposed.length === 5)
    ctx.abort()
    const recommendations = ctx.published.filter((f) => f.kind === 'index.recommendation')
    expect(recommendations.length).toBe(5)
    expect(recommendations.map((f) => f.reason)).toContainEqual(
      expect.stringMatching(/^An index on shop\.orders \(customer_id/),
    )
    expect(recommendations.every((f) => f.source === 'index-advisor' && f.evidence.apply)).toBe(true)
    expect(proposed.map((p) => p.key).sort()).toEqual(recommendations.map((f) => f.evidence.key).sort())
    const summary = ctx.published.find((f) => f.kind === 'index.summary')
    expect(summary?.reason).toMatch(/^Recommended 2 new index\(es\)/)
    const usage = await pool.query(`SELECT index_name FROM cairn_meta.index_usage WHERE schema_name = 'shop'`)
    expect(usage.rows.map((r) => r.index_name)).toContain('cairn_orders_coupon')
  })

  it('publishes a summary saying why when nothing helps', async () => {
    const ctx = createTestAgentContext(pool, 'index-advisor')
    const agent = useIndexAdvisor({
      databaseUrl: db.url,
      now: windows.nothing,
      windowMs: HOUR,
      storageBudgetBytes: budget,
    })
    await agent.start?.(ctx)
    await waitFor(() => ctx.published.some((f) => f.kind === 'index.summary'))
    ctx.abort()
    const summary = ctx.published.find((f) => f.kind === 'index.summary')
    expect(summary?.reason).toMatch(/^No new index recommended: .*shop\.small has only 1 page\(s\)/)
    expect(
      ctx.published.filter((f) => f.kind === 'index.recommendation').every((f) => f.evidence.action === 'index.drop'),
    ).toBe(true)
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting for the index advisor')
    await new Promise((r) => setTimeout(r, 50))
  }
}
