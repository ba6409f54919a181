import { isCairnError } from '@cairn/core'
import { describe, expect, it } from 'vitest'
import { defineDag } from '../src/scheduler/dag-validation.js'
import { useSchedulerDatabase } from './support/scheduler-database.js'

const database = useSchedulerDatabase('sched_backfill', { tickMs: 50, maxConcurrentRuns: 5 })
const scheduler = database.scheduler.bind(database)

const day = (d: number) => new Date(Date.UTC(2025, 0, d))
const iso = (d: number) => day(d).toISOString()

describe('backfill', () => {
  it('runs one run per period, and re-runs none, the failed ones, or all of them', async () => {
    const loads = new Map<string, number>()
    const publishes = new Map<string, number>()
    const failOnce = new Set([iso(3)])
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)
    /** Executions per day 1..5 of the range. */
    const perDay = (m: Map<string, number>) => [1, 2, 3, 4, 5].map((d) => m.get(iso(d)) ?? 0)
    const dag = defineDag({
      name: 'daily_sales',
      description: 'one day of sales per run',
      schedule: '0 0 * * *',
      maxActiveRuns: 5,
      tasks: [
        {
          name: 'load',
          retries: 0,
          async run(ctx) {
            const key = ctx.interval.from.toISOString()
            bump(loads, key)
            if (failOnce.delete(key)) throw new Error(`no sales file for ${key}`)
          },
        },
        {
          name: 'publish',
          dependsOn: ['load'],
          async run(ctx) {
            bump(publishes, ctx.interval.from.toISOString())
          },
        },
      ],
    })
    const s = scheduler([dag])
    s.start()
    const waitAll = (ids: number[]) => Promise.all(ids.map((id) => s.waitFor(id, { timeoutMs: 8_000 })))
    const range = { from: day(1), to: day(6) }

    const ids = await s.backfill('daily_sales', { ...range, reprocess: 'none' })
    expect(ids).toHaveLength(5)
    const first = await waitAll(ids)
    expect(first.map((r) => [r.runKey, r.interval.from.toISOString(), r.interval.to.toISOString(), r.trigger])).toEqual(
      [1, 2, 3, 4, 5].map((d) => [iso(d), iso(d), iso(d + 1), 'backfill']),
    )
    expect(first.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'failed', 'succeeded', 'succeeded'])
    expect(first[2]?.error).toContain(`no sales file for ${iso(3)}`)
    const failedId = ids[2] as number

    // none: every period has a run already.
    expect(await s.backfill('daily_sales', { ...range, reprocess: 'none' })).toEqual([])
    expect(await s.backfill('daily_sales', { ...range })).toEqual([])

    // failed: only the failed period, on the same row, keeping nothing it had not done.
    expect(await s.backfill('daily_sales', { ...range, reprocess: 'failed' })).toEqual([failedId])
    const retried = await s.waitFor(failedId, { timeoutMs: 5_000 })
    expect(retried).toMatchObject({ status: 'succeeded', attempt: 2, trigger: 'backfill', runKey: iso(3) })
    expect(perDay(loads)).toEqual([1, 1, 2, 1, 1])
    expect(perDay(publishes)).toEqual([1, 1, 1, 1, 1])
    expect(await s.backfill('daily_sales', { ...range, reprocess: 'failed' })).toEqual([])

    // all: every period again, every task again.
    const again = await s.backfill('daily_sales', { ...range, reprocess: 'all' })
    expect(again).toEqual(ids)
    const rerun = await waitAll(again)
    expect(rerun.map((r) => [r.status, r.attempt])).toEqual([
      ['succeeded', 2],
      ['succeeded', 2],
      ['succeeded', 3],
      ['succeeded', 2],
      ['succeeded', 2],
    ])
    expect(perDay(loads)).toEqual([2, 2, 3, 2, 2])
    expect(perDay(publishes)).toEqual([2, 2, 2, 2, 2])

    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS n FROM cairn_meta.dag_runs WHERE dag = 'daily_sales'`,
    )
    expect(rows[0].n).toBe(5)
    // The scheduled run of a backfilled period is the same row.
    expect(await s.trigger('daily_sales', { interval: { from: day(2), to: day(3) }, trigger: 'schedule' })).toBe(ids[1])
  })

  it('only backfills whole periods and refuses DAGs without a schedule and empty ranges', async () => {
    const hourly = defineDag({
      name: 'hourly',
      description: 'every hour',
      schedule: '0 * * * *',
      tasks: [{ name: 't', run: async () => {} }],
    })
    const manual = defineDag({
      name: 'by_hand',
      description: 'no schedule',
      tasks: [{ name: 't', run: async () => {} }],
    })
    const s = scheduler([hourly, manual])
    const ids = await s.backfill('hourly', {
      from: new Date('2025-01-01T00:30:00Z'),
      to: new Date('2025-01-01T04:15:00Z'),
      reprocess: 'none',
    })
    const runs = await s.status({ dag: 'hourly' })
    expect(runs.map((r) => r.runKey).sort()).toEqual([
      '2025-01-01T01:00:00.000Z',
      '2025-01-01T02:00:00.000Z',
      '2025-01-01T03:00:00.000Z',
    ])
    expect(runs.every((r) => r.status === 'queued' && ids.includes(r.dagRunId))).toBe(true)
    await expect(s.backfill('by_hand', { from: day(1), to: day(2) })).rejects.toSatisfy((e) =>
      isCairnError(e, 'CAIRN_ERR_SCHEDULER_INVALID_REQUEST'),
    )
    await expect(s.backfill('hourly', { from: day(2), to: day(1) })).rejects.toSatisfy((e) =>
      isCairnError(e, 'CAIRN_ERR_SCHEDULER_INVALID_REQUEST'),
    )
  })
})

describe('data-aware triggering', () => {
  it('runs a triggered DAG after its upstream changed data, not after a run that changed nothing or failed', async () => {
    let changed = 3
    let breakCheck = false
    const downstream: { from: string; to: string }[] = []
    const upstream = defineDag({
      name: 'silver_orders',
      description: 'upstream',
      tasks: [
        { name: 'merge', run: async () => ({ summary: { changed } }) },
        { name: 'untouched', run: async () => ({ summary: { changed: 0, note: 'nothing here' } }) },
        {
          name: 'check',
          dependsOn: ['merge'],
          retries: 0,
          async run() {
            if (breakCheck) throw new Error('check failed')
          },
        },
      ],
    })
    const gold = defineDag({
      name: 'gold_sales',
      description: 'triggered by silver_orders',
      triggeredBy: ['silver_orders'],
      tasks: [
        {
          name: 'refresh',
          async run(ctx) {
            downstream.push({ from: ctx.interval.from.toISOString(), to: ctx.interval.to.toISOString() })
          },
        },
      ],
    })
    const s = scheduler([upstream, gold])
    s.start()
    const interval = { from: new Date('2025-05-01T00:00:00Z'), to: new Date('2025-05-02T00:00:00Z') }
    const a1 = await s.waitFor(await s.trigger('silver_orders', { interval }), { timeoutMs: 5_000 })
    expect(a1.status).toBe('succeeded')
    let goldRuns = await s.status({ dag: 'gold_sales' })
    expect(goldRuns).toHaveLength(1)
    const b1 = await s.waitFor((goldRuns[0] as { dagRunId: number }).dagRunId, { timeoutMs: 5_000 })
    expect(b1).toMatchObject({ status: 'succeeded', trigger: 'data', runKey: `data:silver_orders:${a1.dagRunId}:1` })
    expect(downstream).toEqual([{ from: interval.from.toISOString(), to: interval.to.toISOString() }])

    changed = 0
    const a2 = await s.waitFor(await s.trigger('silver_orders', { interval }), { timeoutMs: 5_000 })
    expect(a2.status).toBe('succeeded')
    changed = 5
    breakCheck = true
    const a3 = await s.waitFor(await s.trigger('silver_orders', { interval }), { timeoutMs: 5_000 })
    expect(a3.status).toBe('failed')
    await new Promise((r) => setTimeout(r, 300))
    goldRuns = await s.status({ dag: 'gold_sales' })
    expect(goldRuns).toHaveLength(1)
    expect(downstream).toHaveLength(1)

    // Fixed and re-run: the upstream run now succeeds with changes, so gold runs again.
    breakCheck = false
    await s.rerunFailed(a3.dagRunId)
    expect((await s.waitFor(a3.dagRunId, { timeoutMs: 5_000 })).status).toBe('succeeded')
    await expect
      .poll(async () => (await s.status({ dag: 'gold_sales' })).map((r) => [r.runKey, r.status]), { timeout: 5_000 })
      .toContainEqual([`data:silver_orders:${a3.dagRunId}:2`, 'succeeded'])
    expect(downstream).toHaveLength(2)
  })
})
