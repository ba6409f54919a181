import { createLogger, isCairnError } from '@cairn/core'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import type { DagDefinition } from '../src/scheduler/dag.js'
import { defineDag } from '../src/scheduler/dag-validation.js'
import { Scheduler, type SchedulerOptions } from '../src/scheduler/scheduler.js'

const log = createLogger({ level: 'silent' })
let db: TestDatabase
let pool: pg.Pool
let otherPool: pg.Pool
const schedulers: Scheduler[] = []

beforeAll(async () => {
  db = await createMigratedTestDatabase('sched_claims')
  // Two pools, as two Cairn processes would have.
  pool = new pg.Pool({ connectionString: db.url, max: 8 })
  otherPool = new pg.Pool({ connectionString: db.url, max: 8 })
})
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()))
})
afterAll(async () => {
  await pool?.end()
  await otherPool?.end()
  await db?.drop()
})

function scheduler(dags: DagDefinition[], options: Partial<SchedulerOptions> & { instanceId: string }): Scheduler {
  const s = new Scheduler({ pool, dags, log, tickMs: 20, ...options })
  schedulers.push(s)
  return s
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function taskRunCounts(dag: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ dag_run_id: string; n: number }>(
    `SELECT r.dag_run_id, count(t.*)::int AS n FROM cairn_meta.dag_runs r
     LEFT JOIN cairn_meta.task_runs t USING (dag_run_id) WHERE r.dag = $1 GROUP BY r.dag_run_id`,
    [dag],
  )
  return new Map(rows.map((r) => [Number(r.dag_run_id), r.n]))
}

describe('two schedulers on one database', () => {
  it('run each scheduled period once when both cron jobs fire for it', async () => {
    const executions = new Map<string, number>()
    const dag = defineDag({
      name: 'every_second',
      description: 'fires every second on both schedulers',
      schedule: '* * * * * *',
      maxActiveRuns: 3,
      tasks: [
        {
          name: 'tick',
          async run(ctx) {
            const key = ctx.interval.from.toISOString()
            executions.set(key, (executions.get(key) ?? 0) + 1)
            await sleep(30)
          },
        },
      ],
    })
    const a = scheduler([dag], { instanceId: 'a' })
    const b = scheduler([dag], { instanceId: 'b', pool: otherPool })
    a.start()
    b.start()
    await expect
      .poll(async () => (await a.status({ dag: 'every_second' })).filter((r) => r.status === 'succeeded').length, {
        timeout: 6_000,
        interval: 100,
      })
      .toBeGreaterThanOrEqual(2)
    await Promise.all([a.stop(), b.stop()])

    const runs = await a.status({ dag: 'every_second' })
    const done = runs.filter((r) => r.status === 'succeeded')
    expect(done.length).toBeGreaterThanOrEqual(2)
    const counts = await taskRunCounts('every_second')
    for (const run of done) {
      expect(run.trigger).toBe('schedule')
      expect(run.runKey).toBe(run.interval.from.toISOString())
      expect(run.interval.to.getTime() - run.interval.from.getTime()).toBe(1_000)
      expect(['a', 'b']).toContain(run.claimedBy)
      expect(executions.get(run.runKey)).toBe(1)
      expect(counts.get(run.dagRunId)).toBe(1)
    }
    expect(Math.max(...executions.values())).toBe(1)
    expect(new Set(runs.map((r) => r.runKey)).size).toBe(runs.length)
  })

  it('execute each queued run exactly once when both poll the same queue', async () => {
    const executions = new Map<number, number>()
    const dag = defineDag({
      name: 'queued_work',
      description: 'many manual runs',
      maxActiveRuns: 20,
      tasks: [
        {
          name: 'work',
          async run(ctx) {
            executions.set(ctx.dagRunId, (executions.get(ctx.dagRunId) ?? 0) + 1)
            await sleep(40)
          },
        },
      ],
    })
    const a = scheduler([dag], { instanceId: 'a', maxConcurrentRuns: 3 })
    const b = scheduler([dag], { instanceId: 'b', maxConcurrentRuns: 3, pool: otherPool })
    const ids: number[] = []
    for (let i = 0; i < 12; i++) ids.push(await a.trigger('queued_work'))
    a.start()
    b.start()
    const infos = await Promise.all(ids.map((id) => b.waitFor(id, { timeoutMs: 8_000 })))
    expect(infos.every((r) => r.status === 'succeeded')).toBe(true)
    expect(infos.every((r) => r.claimedBy === 'a' || r.claimedBy === 'b')).toBe(true)
    const counts = await taskRunCounts('queued_work')
    for (const id of ids) {
      expect(executions.get(id)).toBe(1)
      expect(counts.get(id)).toBe(1)
    }
    expect(executions.size).toBe(12)
  })

  it.each([1, 2])('never run more than maxActiveRuns = %i runs of a DAG at once across both', async (max) => {
    let active = 0
    let peak = 0
    const name = `limited_${max}`
    const dag = defineDag({
      name,
      description: 'limited concurrency',
      maxActiveRuns: max,
      tasks: [
        {
          name: 'hold',
          async run() {
            active++
            peak = Math.max(peak, active)
            await sleep(120)
            active--
          },
        },
      ],
    })
    const a = scheduler([dag], { instanceId: 'a' })
    const b = scheduler([dag], { instanceId: 'b', pool: otherPool })
    const ids: number[] = []
    for (let i = 0; i < 5; i++) ids.push(await a.trigger(name))
    a.start()
    b.start()
    const infos = await Promise.all(ids.map((id) => a.waitFor(id, { timeoutMs: 8_000 })))
    expect(infos.every((r) => r.status === 'succeeded')).toBe(true)
    expect(peak).toBe(max)
    // The runs' recorded spans agree: never more than `max` overlapping.
    const spans = infos.map((r) => [(r.startedAt as Date).getTime(), (r.finishedAt as Date).getTime()] as const)
    for (const [start] of spans) {
      const overlapping = spans.filter(([s, f]) => s <= start && start < f).length
      expect(overlapping).toBeLessThanOrEqual(max)
    }
  })
})

describe('claims', () => {
  it('takes over a run whose scheduler stopped refreshing its claim', async () => {
    let executions = 0
    const dag = defineDag({
      name: 'orphaned',
      description: 'its first scheduler died',
      tasks: [
        {
          name: 'only',
          async run() {
            executions++
          },
        },
      ],
    })
    const { rows } = await pool.query<{ dag_run_id: string }>(
      `INSERT INTO cairn_meta.dag_runs (dag, run_key, interval_from, interval_to, trigger, status, claimed_by,
         started_at, heartbeat_at)
       VALUES ('orphaned', 'manual:ghost', now() - interval '1 day', now(), 'manual', 'running', 'ghost',
         now() - interval '1 hour', now() - interval '1 hour')
       RETURNING dag_run_id`,
    )
    const id = Number(rows[0]?.dag_run_id)
    await pool.query(
      `INSERT INTO cairn_meta.task_runs (dag_run_id, task, attempt, dag_run_attempt, status, started_at)
       VALUES ($1, 'only', 1, 1, 'running', now() - interval '1 hour')`,
      [id],
    )
    const s = scheduler([dag], { instanceId: 'heir', staleAfterMs: 5_000 })
    s.start()
    const info = await s.waitFor(id, { timeoutMs: 5_000 })
    expect(info).toMatchObject({ status: 'succeeded', attempt: 2, claimedBy: 'heir' })
    expect(executions).toBe(1)
    const tries = await s.taskRuns(id)
    expect(tries.map((t) => [t.attempt, t.dagRunAttempt, t.status, t.error])).toEqual([
      [1, 1, 'failed', 'abandoned: scheduler ghost stopped refreshing its claim'],
      [2, 2, 'succeeded', null],
    ])
  })

  it('aborts a run whose claim was taken away, and leaves its row to the new owner', async () => {
    let started = false
    let reason: unknown
    const dag = defineDag({
      name: 'contested',
      description: 'its claim is taken away',
      tasks: [
        {
          name: 'long',
          run: (ctx) =>
            new Promise<void>((resolve) => {
              started = true
              ctx.signal.addEventListener('abort', () => {
                reason = ctx.signal.reason
                resolve()
              })
            }),
        },
      ],
    })
    const s = scheduler([dag], { instanceId: 'loser' })
    s.start()
    const id = await s.trigger('contested')
    await expect.poll(() => started, { timeout: 5_000 }).toBe(true)
    await pool.query(`UPDATE cairn_meta.dag_runs SET claimed_by = 'thief' WHERE dag_run_id = $1`, [id])
    await expect.poll(() => reason, { timeout: 5_000 }).toBeDefined()
    expect(isCairnError(reason, 'CAIRN_ERR_SCHEDULER_STOPPED')).toBe(true)
    await sleep(100)
    const { rows } = await pool.query(
      'SELECT status, claimed_by, attempt FROM cairn_meta.dag_runs WHERE dag_run_id = $1',
      [id],
    )
    expect(rows[0]).toEqual({ status: 'running', claimed_by: 'thief', attempt: 1 })
    await pool.query(`UPDATE cairn_meta.dag_runs SET status = 'failed', finished_at = now() WHERE dag_run_id = $1`, [
      id,
    ])
  })
})
