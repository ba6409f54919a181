import { createLogger, EventBus, type Finding } from '@cairn/core'
import {
  BronzeLoader,
  createSourceRegistry,
  type PipelineSettings,
  pipelineDags,
  runSilver,
  Scheduler,
} from '@cairn/pipelines'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'

const log = createLogger({ level: 'silent' })
const settings: PipelineSettings = {
  sources: [{ plugin: 'generator', instance: 'dagtest', config: { orders: 300, days: 60, seed: 3 } }],
  ingestCron: '0 * * * *',
  maintenanceCron: '0 3 * * *',
  bronzeRetentionDays: 30,
  telemetryRetentionDays: 7,
}

describe('the four DAGs', () => {
  let db: TestDatabase
  let pool: pg.Pool
  let scheduler: Scheduler
  const findings: Finding[] = []
  const changed: string[][] = []
  beforeAll(async () => {
    db = await createMigratedTestDatabase('dags')
    pool = new pg.Pool({ connectionString: db.url, max: 6 })
    const bus = new EventBus()
    bus.subscribe('finding', (f) => findings.push(f))
    const dags = pipelineDags(settings, createSourceRegistry(), log, {
      dataChanged: async (relations) => {
        changed.push([...relations])
      },
    })
    scheduler = new Scheduler({ pool, dags, log, bus, tickMs: 100 })
    scheduler.start()
  })
  afterAll(async () => {
    await scheduler?.stop()
    await pool?.end()
    await db?.drop()
  })

  const finished = async (id: number) => scheduler.waitFor(id, { timeoutMs: 120_000 })
  const latest = async (dag: string) => (await scheduler.status({ dag, limit: 1 }))[0]

  it('bronze_ingestion triggers silver_transformation, which triggers gold_aggregation', async () => {
    const bronze = await finished(await scheduler.trigger('bronze_ingestion'))
    expect(bronze.status).toBe('succeeded')
    let gold = await latest('gold_aggregation')
    for (let i = 0; i < 600 && gold?.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100))
      gold = await latest('gold_aggregation')
    }
    expect(gold).toMatchObject({ status: 'succeeded', trigger: 'data' })
    expect((await latest('silver_transformation'))?.status).toBe('succeeded')
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM gold.daily_sales')
    expect(rows[0].n).toBeGreaterThan(0)
    expect(changed.flat()).toContain('gold.customer_360')
    // A second bronze run finds nothing new, so nothing downstream runs again.
    const runsBefore = (await scheduler.status({ limit: 100 })).length
    expect((await finished(await scheduler.trigger('bronze_ingestion'))).status).toBe('succeeded')
    await new Promise((r) => setTimeout(r, 500))
    expect((await scheduler.status({ limit: 100 })).length).toBe(runsBefore + 1)
  }, 180_000)

  it('keeps gold from running while a silver step is failed, with an alert', async () => {
    await new BronzeLoader(pool).load('test', {
      id: 'bad-currency',
      entity: 'orders',
      records: [
        {
          order_id: 1_000_001,
          customer_id: 1,
          order_ts: '2025-02-01T10:00:00Z',
          status: 'paid',
          currency: 'XYZ',
          total_amount: '5',
          updated_at: '2025-02-01T10:00:00Z',
        },
      ],
    })
    await expect(runSilver(pool, { log, ruleActions: { 'orders.currency_accepted': 'fail' } })).rejects.toMatchObject({
      code: 'CAIRN_ERR_PIPELINE_QUALITY_FAILED',
    })
    // runSilver records its run as `silver`; the DAG's tasks record `silver.<table>`, which gold checks.
    await pool.query(
      `INSERT INTO cairn_meta.pipeline_runs (pipeline, status, error, finished_at) VALUES ('silver.orders', 'failed', 'rule currency_accepted failed', now())`,
    )
    const gold = await scheduler.runTask('gold_aggregation', 'marts')
    const done = await finished(gold.dagRunId)
    expect(done.status).toBe('failed')
    expect(done.tasks[0]?.error).toMatch(
      /gold waits for silver: silver\.orders failed \(rule currency_accepted failed\)/,
    )
    expect(findings.some((f) => f.kind === 'pipeline.run_failed' && f.evidence.dag === 'gold_aggregation')).toBe(true)
    // The next successful orders step unblocks gold.
    const silver = await finished((await scheduler.runTask('silver_transformation', 'orders')).dagRunId)
    expect(silver.status).toBe('succeeded')
    expect((await finished((await scheduler.runTask('gold_aggregation', 'marts')).dagRunId)).status).toBe('succeeded')
  }, 120_000)

  it('maintenance deletes only bronze rows past retention that silver has read, and keeps telemetry partitions', async () => {
    const old = await pool.query(`SELECT min(bronze_id) AS lo, max(bronze_id) AS hi FROM bronze.payments`)
    // Bronze refuses updates; the test ages rows with triggers off (session_replication_role = replica).
    await expect(pool.query(`UPDATE bronze.payments SET received_at = now() - interval '90 days'`)).rejects.toThrow(
      /append-only/,
    )
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(`SET LOCAL session_replication_role = replica`) // test setup only: age some rows
      await client.query(`UPDATE bronze.payments SET received_at = now() - interval '90 days' WHERE bronze_id <= $1`, [
        Math.floor((Number(old.rows[0].lo) + Number(old.rows[0].hi)) / 2),
      ])
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    // A late payment not yet read by silver, also old: it must survive retention.
    await new BronzeLoader(pool).load('test', {
      id: 'unread',
      entity: 'payments',
      records: [{ payment_id: 9_999_999 }],
    })
    const client2 = await pool.connect()
    try {
      await client2.query('BEGIN')
      await client2.query(`SET LOCAL session_replication_role = replica`)
      await client2.query(
        `UPDATE bronze.payments SET received_at = now() - interval '90 days' WHERE batch_id = 'unread'`,
      )
      await client2.query('COMMIT')
    } finally {
      client2.release()
    }
    const before = await pool.query(
      `SELECT count(*) FILTER (WHERE received_at < now() - interval '30 days')::int AS old, count(*)::int AS n FROM bronze.payments`,
    )
    const run = await finished((await scheduler.runTask('maintenance', 'bronze_retention')).dagRunId)
    expect(run.status).toBe('succeeded')
    const after = await pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE batch_id = 'unread')::int AS unread FROM bronze.payments`,
    )
    expect(after.rows[0].n).toBe(before.rows[0].n - (before.rows[0].old - 1))
    expect(after.rows[0].unread).toBe(1)

    for (const task of ['analyze', 'vacuum', 'refresh_views', 'telemetry_partitions']) {
      const r = await finished((await scheduler.runTask('maintenance', task)).dagRunId)
      expect(r.status, task).toBe('succeeded')
    }
    const parts = await pool.query(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'cairn_meta.query_events'::regclass`,
    )
    expect(parts.rows[0].n).toBeGreaterThanOrEqual(3)
  }, 120_000)
})
