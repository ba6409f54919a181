import type { ActionCommand, Finding } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import type { ActionAuditEntry } from '../src/actuator/action-record.js'
import { Actuator, type ActuatorOptions } from '../src/actuator/actuator.js'
import { useActuator } from '../src/actuator/use-actuator.js'
import { captureExecutions, indexesOn, indexProposal } from './support/actuator-workload.js'
import { createTestAgentContext } from './support/agent-context.js'

let db: TestDatabase
let pool: pg.Pool

// Small replays: a few seconds per verification, enough passes for the tests to have power.
const quick: Partial<ActuatorOptions> = { replay: { budgetMs: 3_000, minPasses: 6, maxPasses: 8 }, resamples: 500 }

function actuator(options: Partial<ActuatorOptions> = {}): { actuator: Actuator; findings: Finding[] } {
  const findings: Finding[] = []
  const a = new Actuator({ pool, ...quick, ...options })
  a.attach({
    publish: (f) => findings.push({ id: String(findings.length), at: Date.now(), source: 'actuator', ...f } as Finding),
  })
  return { actuator: a, findings }
}

const byCustomer = 'fp-orders-by-customer'
const byProduct = 'fp-orders-by-product'
const byAmount = 'fp-orders-by-amount'
const byEmail = 'fp-customers-by-email'
const customerById = 'fp-customers-by-id'
const productByName = 'fp-products-by-name'
const logInsert = 'fp-log-insert'
const logUpdate = 'fp-log-update'
const dupLookup = 'fp-dups-by-code'

/** Every step has a `started` row before and an `ok`/`error` row after, with its actor and SQL. */
function expectCompleteTrail(trail: readonly ActionAuditEntry[]): void {
  for (const [i, entry] of trail.entries()) {
    expect(entry.actor).not.toBe('')
    if (!entry.event.endsWith('.start')) continue
    expect(entry.outcome).toBe('started')
    const step = entry.event.slice(0, -'.start'.length)
    const end = trail.slice(i + 1).find((e) => e.event === `${step}.end`)
    expect(end, `${entry.event} has its .end`).toBeDefined()
    expect(['ok', 'error']).toContain(end?.outcome)
    expect(end?.sql).toBe(entry.sql)
    expect(end?.actor).toBe(entry.actor)
  }
}

beforeAll(async () => {
  db = await createMigratedTestDatabase('actuator')
  pool = new pg.Pool({ connectionString: db.url, max: 6 })
  await pool.query(`
    CREATE SCHEMA shop;
    CREATE TABLE shop.orders AS
      SELECT g AS id, (g::bigint * 7919) % 3000 AS customer_id, (g::bigint * 104729) % 500 AS product_id,
             (ARRAY['paid', 'shipped', 'returned'])[g % 3 + 1] AS status, ((g::bigint * 2654435761) % 100000) / 100.0 AS amount
      FROM generate_series(1, 60000) g;
    ALTER TABLE shop.orders ADD PRIMARY KEY (id);
    CREATE TABLE shop.customers AS
      SELECT g AS id, 'customer' || g || '@example.com' AS email, (ARRAY['DE', 'FR', 'NL'])[g % 3 + 1] AS country
      FROM generate_series(1, 40000) g;
    CREATE TABLE shop.event_log (id bigserial PRIMARY KEY, session_id int NOT NULL, kind text NOT NULL,
      payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO shop.event_log (session_id, kind, payload)
      SELECT g % 997, 'view', repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;
    CREATE INDEX event_log_session ON shop.event_log (session_id);
    CREATE INDEX event_log_created ON shop.event_log (created_at);
    CREATE TABLE shop.products AS
      SELECT g AS id, 'product-' || md5(g::text) AS name, g % 40 AS category FROM generate_series(1, 30000) g;
    CREATE TABLE shop.dups AS SELECT g AS id, 'code' || (g % 1000) AS code FROM generate_series(1, 5000) g;
  `)
  // No autovacuum racing the replays of these few seconds: its run during a baseline would be drift, not the index.
  await pool.query('ALTER TABLE shop.event_log SET (autovacuum_enabled = off)')
  await pool.query('VACUUM ANALYZE shop.orders, shop.customers, shop.products, shop.event_log, shop.dups')
  const some = (n: number, f: (i: number) => (string | null)[]) => Array.from({ length: n }, (_, i) => f(i))
  await captureExecutions(pool, [
    {
      fingerprint: byCustomer,
      kind: 'select',
      relation: 'shop.orders',
      text: 'SELECT count(*), sum(amount) FROM shop.orders WHERE customer_id = $1',
      params: some(12, (i) => [String(i * 37)]),
      predicateColumns: ['customer_id'],
    },
    {
      fingerprint: byProduct,
      kind: 'select',
      relation: 'shop.orders',
      text: 'SELECT id, status FROM shop.orders WHERE product_id = $1 ORDER BY id',
      params: some(8, (i) => [String(i * 11)]),
      predicateColumns: ['product_id'],
    },
    {
      fingerprint: byAmount,
      kind: 'select',
      relation: 'shop.orders',
      text: 'SELECT id FROM shop.orders WHERE amount BETWEEN $1 AND $1 + 0.5',
      params: some(8, (i) => [String(i * 97)]),
      predicateColumns: ['amount'],
    },
    {
      fingerprint: byEmail,
      kind: 'select',
      relation: 'shop.customers',
      text: 'SELECT id, country FROM shop.customers WHERE email = $1',
      params: some(8, (i) => [`customer${i * 1234 + 1}@example.com`]),
      predicateColumns: ['email'],
    },
    {
      fingerprint: customerById,
      kind: 'select',
      relation: 'shop.customers',
      text: 'SELECT email FROM shop.customers WHERE id = $1',
      params: some(8, (i) => [String(i * 4321 + 7)]),
      predicateColumns: ['id'],
    },
    {
      fingerprint: productByName,
      kind: 'select',
      relation: 'shop.products',
      text: 'SELECT id, category FROM shop.products WHERE name = $1',
      params: some(8, (i) => [`product-${i}`]),
      predicateColumns: ['name'],
    },
    {
      fingerprint: logInsert,
      kind: 'insert',
      relation: 'shop.event_log',
      text: `INSERT INTO shop.event_log (session_id, kind, payload)
             SELECT g % 997, 'click', repeat(md5((g + $1::int)::text), 4) FROM generate_series(1, 1000) g`,
      params: some(6, (i) => [String(i * 1000)]),
    },
    {
      fingerprint: logUpdate,
      kind: 'update',
      relation: 'shop.event_log',
      text: `UPDATE shop.event_log SET payload = md5(payload) || payload WHERE id BETWEEN $1::int AND $1::int + 400`,
      params: some(6, (i) => [String(i * 2500 + 1)]),
      predicateColumns: ['id'],
    },
    {
      fingerprint: dupLookup,
      kind: 'select',
      relation: 'shop.dups',
      text: 'SELECT id FROM shop.dups WHERE code = $1',
      params: some(6, (i) => [`code${i * 7}`]),
      predicateColumns: ['code'],
    },
  ])
}, 120_000)

afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

describe('the actuator', () => {
  it('applies a useful index under auto, verifies that the replayed statements got faster, and keeps it', async () => {
    const { actuator: a, findings } = actuator({ policy: { modes: { 'index.create': 'auto' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'orders',
      name: 'orders_customer_id',
      columns: ['customer_id'],
      fingerprints: [byCustomer],
      predictedBenefitMs: 500,
    })
    const proposed = await a.propose(proposal)
    expect(proposed.outcome).toBe('stored')
    expect(proposed.action?.state).toBe('approved')

    const [outcome] = await a.processApproved()
    expect(outcome?.ok).toBe(true)
    const action = await a.get(proposed.action?.id as string)
    expect(action?.state).toBe('kept')
    expect(action?.measuredSizeBytes).toBeGreaterThan(0)
    expect(action?.measuredBenefitMs).toBeGreaterThan(0)
    expect(await indexesOn(pool, 'shop.orders')).toContainEqual({ name: 'orders_customer_id', valid: true })

    type Judged = { fingerprint: string; medianBeforeMs: number; medianAfterMs: number }
    const fingerprint = ((action?.verdict?.fingerprints ?? []) as Judged[])[0]
    expect(fingerprint?.fingerprint).toBe(byCustomer)
    expect(fingerprint?.medianAfterMs).toBeLessThan(fingerprint?.medianBeforeMs as number)
    const verdict = await a.verdictFor(proposal.key)
    expect(verdict).toMatchObject({ verdict: 'kept', predictedBenefitMs: 500, actionId: action?.id })
    expect(verdict?.weightedRatio).toBeLessThan(0.95)
    expect(verdict?.measuredBenefitMs).toBe(action?.measuredBenefitMs)

    const trail = await a.auditTrail(action?.id as string)
    expect(trail.map((e) => e.event)).toEqual([
      'proposed',
      'approved',
      'baseline.start',
      'baseline.end',
      'apply.start',
      'apply.end',
      'verify.start',
      'verify.end',
      'kept',
    ])
    expectCompleteTrail(trail)
    expect(trail.find((e) => e.event === 'apply.end')).toMatchObject({
      sql: proposal.apply.sql,
      outcome: 'ok',
      actor: 'actuator',
    })
    expect(trail[0]).toMatchObject({ actor: 'index-advisor' })
    expect(trail[1]).toMatchObject({ actor: 'policy' })

    expect(findings.map((f) => f.kind)).toEqual(['action.applied', 'action.kept'])
    expect(findings[1]?.reason).toMatch(
      /^Kept index\.create:shop\.orders\(customer_id\): The affected workload got \d+\.\d% faster \(weighted time after\/before 0\.\d{3}/,
    )
    expect(findings[1]?.reason).toMatch(/measured benefit \d+ ms\/h against 500 ms\/h predicted/)

    // Proposed again while kept: the live action answers, nothing is applied twice.
    const again = await a.propose(proposal)
    expect(again).toMatchObject({ outcome: 'duplicate', action: { id: action?.id } })
  })

  it('rolls back a harmful index that slows the writes of a write-heavy table, and does not re-apply it', async () => {
    const { actuator: a, findings } = actuator({ policy: { modes: { 'index.create': 'auto' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'event_log',
      name: 'event_log_payload',
      columns: ['payload'],
      fingerprints: [logInsert, logUpdate],
      predictedBenefitMs: 50,
    })
    const proposed = await a.propose(proposal)
    const [outcome] = await a.processApproved()
    const action = await a.get(proposed.action?.id as string)
    expect(outcome?.ok).toBe(false)
    expect(action?.state).toBe('rolled_back')
    expect(action?.stateReason).toMatch(/not kept because it did not improve by the required 5\.0%/)
    expect((await indexesOn(pool, 'shop.event_log')).map((i) => i.name)).not.toContain('event_log_payload')
    expect(await pool.query('SELECT count(*)::int AS n FROM shop.event_log')).toMatchObject({ rows: [{ n: 20000 }] })

    const verdict = await a.verdictFor(proposal.key)
    expect(verdict).toMatchObject({ verdict: 'rolled_back', predictedBenefitMs: 50, attempts: 1 })
    expect(verdict?.weightedRatio).toBeGreaterThan(0.95)
    expect(verdict?.measuredBenefitMs).toBeLessThan(50)
    expect((await a.recentVerdicts()).map((v) => v.key)).toContain(proposal.key)

    const trail = await a.auditTrail(action?.id as string)
    expect(trail.map((e) => e.event)).toEqual([
      'proposed',
      'approved',
      'baseline.start',
      'baseline.end',
      'apply.start',
      'apply.end',
      'verify.start',
      'verify.end',
      'rollback.start',
      'rollback.end',
    ])
    expectCompleteTrail(trail)
    expect(trail.find((e) => e.event === 'rollback.end')).toMatchObject({ sql: proposal.rollback.sql, outcome: 'ok' })
    expect(findings.map((f) => f.kind)).toEqual(['action.applied', 'action.rolled_back'])
    expect(findings[1]?.reason).toMatch(
      /^Rolled back index\.create:shop\.event_log\(payload\): The affected workload got/,
    )

    // The same candidate again, with the same evidence: held back by its verdict, not applied again.
    const again = await a.propose(proposal)
    expect(again.outcome).toBe('suppressed')
    expect(again.reason).toMatch(
      /^Not proposing index\.create:shop\.event_log\(payload\) again: it was rolled back \d+ min ago/,
    )
    expect(await a.processApproved()).toEqual([])
    expect((await a.list()).filter((x) => x.key === proposal.key)).toHaveLength(1)
    expect((await indexesOn(pool, 'shop.event_log')).map((i) => i.name)).not.toContain('event_log_payload')
  })

  it('fails a concurrent unique build on duplicates, dropping the invalid index it leaves', async () => {
    const { actuator: a, findings } = actuator({ policy: { modes: { 'index.create': 'auto' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'dups',
      name: 'dups_code',
      columns: ['code'],
      unique: true,
      fingerprints: [dupLookup],
    })
    const proposed = await a.propose(proposal)
    const [outcome] = await a.processApproved()
    expect(outcome?.ok).toBe(false)
    const action = await a.get(proposed.action?.id as string)
    expect(action?.state).toBe('failed')
    expect(action?.stateReason).toMatch(
      /^Its DDL failed: could not create unique index "dups_code" \(SQLSTATE 23505\); dropped the invalid index shop\.dups_code it left behind\.$/,
    )
    expect(await indexesOn(pool, 'shop.dups')).toEqual([])
    const trail = await a.auditTrail(action?.id as string)
    expect(trail.map((e) => e.event)).toEqual([
      'proposed',
      'approved',
      'baseline.start',
      'baseline.end',
      'apply.start',
      'apply.end',
      'cleanup.start',
      'cleanup.end',
      'failed',
    ])
    expectCompleteTrail(trail)
    expect(trail.find((e) => e.event === 'apply.end')).toMatchObject({
      outcome: 'error',
      detail: { sqlstate: '23505' },
    })
    expect(trail.find((e) => e.event === 'cleanup.end')).toMatchObject({
      sql: 'DROP INDEX CONCURRENTLY IF EXISTS shop.dups_code',
      outcome: 'ok',
    })
    expect(await a.verdictFor(proposal.key)).toMatchObject({ verdict: 'failed' })
    expect(findings.map((f) => f.kind)).toEqual(['action.failed'])
  })

  it('under recommend applies nothing until approved; approved, it is applied', async () => {
    const { actuator: a, findings } = actuator({ policy: { modes: { 'index.create': 'recommend' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'orders',
      name: 'orders_product_id',
      columns: ['product_id'],
      fingerprints: [byProduct],
    })
    const proposed = await a.propose(proposal)
    expect(proposed).toMatchObject({ outcome: 'stored', action: { state: 'recommended' } })
    expect(findings[0]?.kind).toBe('action.recommended')
    expect(findings[0]?.reason).toMatch(
      /^Recommended index\.create:shop\.orders\(product_id\) \(action #\d+\): .* It waits for approval\.$/,
    )
    expect(await a.processApproved()).toEqual([])
    expect((await indexesOn(pool, 'shop.orders')).map((i) => i.name)).not.toContain('orders_product_id')

    const id = proposed.action?.id as string
    expect((await a.rollback(id, 'alice')).reason).toMatch(/only kept actions can be rolled back/)
    expect(await a.approve(id, 'alice')).toMatchObject({ ok: true, action: { state: 'approved', approvedBy: 'alice' } })
    const [outcome] = await a.processApproved()
    expect(outcome?.action?.state).toBe('kept')
    expect(await indexesOn(pool, 'shop.orders')).toContainEqual({ name: 'orders_product_id', valid: true })
    const trail = await a.auditTrail(id)
    expect(trail.slice(0, 2).map((e) => [e.event, e.actor])).toEqual([
      ['proposed', 'index-advisor'],
      ['approved', 'alice'],
    ])

    // A person rolls it back: undone, and the verdict remembers it.
    const undone = await a.rollback(id, 'alice', 'not needed after all')
    expect(undone).toMatchObject({ ok: true, action: { state: 'rolled_back' } })
    expect((await indexesOn(pool, 'shop.orders')).map((i) => i.name)).not.toContain('orders_product_id')
    expect(await a.verdictFor(proposal.key)).toMatchObject({
      verdict: 'rolled_back',
      reason: 'Rolled back by alice: not needed after all.',
    })
  })

  it('applies a recommendation by id in-process (the CLI), approving it as the actor', async () => {
    const { actuator: a } = actuator({ policy: { modes: { 'index.create': 'recommend' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'products',
      name: 'products_name',
      columns: ['name'],
      fingerprints: [productByName],
    })
    const id = (await a.propose(proposal)).action?.id as string
    const outcome = await a.apply(id, 'cli')
    expect(outcome).toMatchObject({ ok: true, action: { state: 'kept', approvedBy: 'cli' } })
    expect(outcome.reason).toMatch(/^Kept: The affected workload got/)
    const trail = await a.auditTrail(id)
    expect(trail.map((e) => [e.event, e.actor])).toEqual([
      ['proposed', 'index-advisor'],
      ['approved', 'cli'],
      ['baseline.start', 'cli'],
      ['baseline.end', 'cli'],
      ['apply.start', 'cli'],
      ['apply.end', 'cli'],
      ['verify.start', 'cli'],
      ['verify.end', 'cli'],
      ['kept', 'cli'],
    ])
    expect((await a.list({ state: 'kept' })).map((x) => x.id)).toContain(id)
    expect(await a.apply(id, 'cli')).toMatchObject({
      ok: false,
      reason: `Action #${id} is kept; only approved or recommended actions can be applied.`,
    })
  })

  it('under off applies nothing, and stores the refusal once', async () => {
    const { actuator: a, findings } = actuator({ policy: { modes: { 'index.create': 'off' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'orders',
      name: 'orders_status',
      columns: ['status'],
      fingerprints: [],
    })
    const proposed = await a.propose(proposal)
    expect(proposed).toMatchObject({
      outcome: 'stored',
      action: { state: 'rejected', stateReason: 'Refused: the policy for index.create is off.' },
    })
    expect(await a.propose(proposal)).toMatchObject({ outcome: 'duplicate', action: { id: proposed.action?.id } })
    expect((await a.apply(proposed.action?.id as string, 'cli')).reason).toBe(
      `Action #${proposed.action?.id} is rejected; only approved or recommended actions can be applied.`,
    )
    expect(await a.processApproved()).toEqual([])
    expect((await indexesOn(pool, 'shop.orders')).map((i) => i.name)).not.toContain('orders_status')
    expect(findings.map((f) => f.kind)).toEqual(['action.rejected'])
    expect((await a.list({ state: 'rejected' })).filter((x) => x.key === proposal.key)).toHaveLength(1)
  })

  it('a person rejects a recommendation: nothing applied, and the key is held back', async () => {
    const { actuator: a, findings } = actuator({ policy: { modes: { 'index.create': 'recommend' } } })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'products',
      name: 'products_category',
      columns: ['category'],
      fingerprints: [],
    })
    const id = (await a.propose(proposal)).action?.id as string
    expect(await a.reject(id, 'carol', 'categories are few')).toMatchObject({
      ok: true,
      reason: 'Rejected by carol: categories are few.',
      action: { state: 'rejected' },
    })
    expect(await a.approve(id, 'carol')).toMatchObject({
      ok: false,
      reason: `Action #${id} is rejected; only recommended actions can be approved.`,
    })
    expect(await a.verdictFor(proposal.key)).toMatchObject({
      verdict: 'rejected',
      reason: 'Rejected by carol: categories are few.',
    })
    expect((await a.propose(proposal)).outcome).toBe('suppressed')
    expect(findings.map((f) => f.kind)).toEqual(['action.recommended', 'action.rejected'])
    expect((await indexesOn(pool, 'shop.products')).map((i) => i.name)).not.toContain('products_category')
  })

  it('defers an auto change outside the maintenance window, and applies it inside', async () => {
    let clock = Date.parse('2026-03-02T12:00:00Z') // a Monday, noon UTC
    const { actuator: a, findings } = actuator({
      policy: { modes: { 'index.create': 'auto' }, windows: 'Mon-Fri 01:00-05:00' },
      now: () => clock,
    })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'customers',
      name: 'customers_email',
      columns: ['email'],
      fingerprints: [byEmail],
    })
    const proposed = await a.propose(proposal)
    expect(proposed.reason).toBe('Approved by policy; it waits for the maintenance window (Mon-Fri 01:00-05:00 UTC).')
    expect(findings.map((f) => f.kind)).toEqual(['action.deferred'])
    expect(await a.processApproved()).toEqual([])
    expect(await indexesOn(pool, 'shop.customers')).toEqual([])
    expect((await a.get(proposed.action?.id as string))?.state).toBe('approved')

    clock = Date.parse('2026-03-03T02:30:00Z') // Tuesday, inside the window
    const [outcome] = await a.processApproved()
    expect(outcome?.action?.state).toBe('kept')
    expect(await indexesOn(pool, 'shop.customers')).toEqual([{ name: 'customers_email', valid: true }])
  })

  it('refuses an index that would exceed the storage budget, saying so', async () => {
    // What the kept changes of the tests before take, as measured once built, counts against the budget.
    const { rows } = await pool.query<{ taken: string }>(
      `SELECT COALESCE(sum(measured_size_bytes), 0) AS taken FROM cairn_meta.actions WHERE state = 'kept'`,
    )
    const taken = Number(rows[0]?.taken)
    const { actuator: a, findings } = actuator({
      policy: { modes: { 'index.create': 'auto' }, storageBudgetBytes: taken + 512 * 1024 },
    })
    const proposal = indexProposal({
      schema: 'shop',
      table: 'customers',
      name: 'customers_country',
      columns: ['country'],
      fingerprints: [],
      sizeBytes: 1_048_576,
    })
    const proposed = await a.propose(proposal)
    expect(proposed.action?.state).toBe('rejected')
    expect(proposed.action?.stateReason).toMatch(
      /^Refused: its 1\.0 MB would exceed the storage budget of [\d.]+ (kB|MB) \([\d.]+ (kB|MB) already taken by kept changes\)\.$/,
    )
    expect(findings[0]).toMatchObject({ kind: 'action.rejected' })
    expect(findings[0]?.reason).toMatch(
      /^Refused index\.create:shop\.customers\(country\) on shop\.customers: its 1\.0 MB would exceed/,
    )
    expect(await a.processApproved()).toEqual([])
    expect((await indexesOn(pool, 'shop.customers')).map((i) => i.name)).not.toContain('customers_country')
  })

  it('as an agent: approves and applies through the bus command channel, and recovers an interrupted action', async () => {
    const ctx = createTestAgentContext(pool, 'actuator')
    const { agent, actuator: a } = useActuator({
      pool,
      ...quick,
      commands: ctx.bus.on('command'),
      pollMs: 200,
      policy: { modes: { 'index.create': 'recommend' } },
    })
    // An action a stopped process left applying, its DDL started: the agent undoes and fails it on start.
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO cairn_meta.actions (kind, key, relation, apply_sql, apply_concurrently, rollback_sql,
         rollback_concurrently, reason, source, state, approved_at, approved_by)
       VALUES ('index.create', 'index.create:shop.dups(id)', 'shop.dups', 'CREATE INDEX CONCURRENTLY dups_id ON shop.dups (id)', true,
         'DROP INDEX CONCURRENTLY shop.dups_id', true, 'Lookups by id.', 'index-advisor', 'applying', now(), 'policy')
       RETURNING id`,
    )
    const stuck = rows[0]?.id as string
    await pool.query('CREATE INDEX dups_id ON shop.dups (id)')
    await pool.query(
      `INSERT INTO cairn_meta.action_audit (action_id, actor, event, sql, outcome) VALUES ($1, 'actuator', 'apply.start', 'x', 'started')`,
      [stuck],
    )

    const teardown = await agent.start?.(ctx)
    try {
      expect(await indexesOn(pool, 'shop.dups')).toEqual([])
      expect(await a.get(stuck)).toMatchObject({
        state: 'failed',
        stateReason: 'It was interrupted while applying (its process stopped); the change was undone.',
      })
      const proposal = indexProposal({
        schema: 'shop',
        table: 'orders',
        name: 'orders_amount',
        columns: ['amount'],
        fingerprints: [byAmount],
      })
      const proposed = await a.propose(proposal)
      const id = proposed.action?.id as string
      const command: ActionCommand = { type: 'approve', actionId: id, actor: 'ui' }
      ctx.bus.publish('command', command)
      let state = ''
      for (let i = 0; i < 300 && !['kept', 'rolled_back', 'failed'].includes(state); i++) {
        await new Promise((r) => setTimeout(r, 100))
        state = (await a.get(id))?.state ?? ''
      }
      expect(state).toBe('kept')
      expect((await a.auditTrail(id)).find((e) => e.event === 'approved')?.actor).toBe('ui')

      // Approved from another process (the CLI's own actuator on the same database): the agent's poll applies it.
      const byId = await a.propose(
        indexProposal({
          schema: 'shop',
          table: 'customers',
          name: 'customers_id',
          columns: ['id'],
          fingerprints: [customerById],
        }),
      )
      const cli = new Actuator({ pool })
      expect(await cli.approve(byId.action?.id as string, 'bob')).toMatchObject({ ok: true })
      let other = ''
      for (let i = 0; i < 300 && !['kept', 'rolled_back', 'failed'].includes(other); i++) {
        await new Promise((r) => setTimeout(r, 100))
        other = (await cli.get(byId.action?.id as string))?.state ?? ''
      }
      expect(other).toBe('kept')
      expect(ctx.published.map((f) => f.kind)).toEqual(
        expect.arrayContaining(['action.failed', 'action.recommended', 'action.applied', 'action.kept']),
      )
      expect(ctx.published.every((f) => f.source === 'actuator' && f.reason.length > 0)).toBe(true)
    } finally {
      if (typeof teardown === 'function') await teardown()
    }
  })
})
