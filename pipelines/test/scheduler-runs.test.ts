import { EventBus, type Finding, isCairnError } from '@cairn/core'
import { describe, expect, it } from 'vitest'
import type { TaskContext } from '../src/scheduler/dag.js'
import { defineDag } from '../src/scheduler/dag-validation.js'
import { useSchedulerDatabase } from './support/scheduler-database.js'

const database = useSchedulerDatabase('sched_runs', { tickMs: 50 })
const scheduler = database.scheduler.bind(database)

function collect(bus: EventBus): Finding[] {
  const findings: Finding[] = []
  bus.findings$.subscribe((f) => findings.push(f))
  return findings
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

interface TaskRow {
  task: string
  attempt: number
  dag_run_attempt: number
  status: string
  started_at: Date | null
  error: string | null
  log: string
  summary: Record<string, unknown> | null
}
async function taskRows(dagRunId: number): Promise<TaskRow[]> {
  const { rows } = await database.pool.query<TaskRow>(
    `SELECT task, attempt, dag_run_attempt, status, started_at, error, log, summary FROM cairn_meta.task_runs
     WHERE dag_run_id = $1 ORDER BY task, attempt`,
    [dagRunId],
  )
  return rows
}

describe('retries', () => {
  it('retries a flaky task with exponential backoff, one row and one log per try', async () => {
    const seen: number[] = []
    const dag = defineDag({
      name: 'flaky',
      description: 'fails twice, then works',
      tasks: [
        {
          name: 'wobbly',
          retries: 3,
          retryDelayMs: 50,
          maxRetryDelayMs: 1_000,
          async run(ctx) {
            seen.push(ctx.attempt)
            ctx.appendLog(`try number ${ctx.attempt}`)
            if (ctx.attempt < 3) throw new Error(`flake ${ctx.attempt}`)
            return { summary: { rows: 7 } }
          },
        },
      ],
    })
    const s = scheduler([dag])
    s.start()
    const info = await s.waitFor(await s.trigger('flaky'), { timeoutMs: 8_000 })
    expect(info.status).toBe('succeeded')
    expect(info.tasks).toEqual([{ task: 'wobbly', status: 'succeeded', tries: 3, error: null }])
    expect(seen).toEqual([1, 2, 3])

    const rows = await taskRows(info.dagRunId)
    expect(rows.map((r) => [r.attempt, r.status, r.error])).toEqual([
      [1, 'failed', 'flake 1'],
      [2, 'failed', 'flake 2'],
      [3, 'succeeded', null],
    ])
    rows.forEach((r, i) => {
      expect(r.log).toContain(`try number ${i + 1}`)
      expect(r.log.match(/try number/g)).toHaveLength(1)
    })
    expect(rows[0]?.log).toContain('failed: Error: flake 1')
    expect(rows[2]?.summary).toEqual({ rows: 7 })
    const starts = rows.map((r) => (r.started_at as Date).getTime())
    const [first, second, third] = starts as [number, number, number]
    expect(second - first).toBeGreaterThanOrEqual(50)
    expect(third - second).toBeGreaterThanOrEqual(100)
  })
})

describe('failures', () => {
  it('fails the run after the retries, marks downstream tasks upstream_failed and raises a critical finding', async () => {
    const bus = new EventBus()
    const findings = collect(bus)
    const ran: string[] = []
    const ok = (name: string, dependsOn?: string[]) => ({
      name,
      ...(dependsOn ? { dependsOn } : {}),
      async run() {
        ran.push(name)
      },
    })
    const doomed = defineDag({
      name: 'doomed',
      description: 'transform always fails',
      tasks: [
        ok('extract'),
        {
          name: 'transform',
          dependsOn: ['extract'],
          retries: 1,
          retryDelayMs: 20,
          async run() {
            ran.push('transform')
            throw new Error('disk on fire')
          },
        },
        ok('load', ['transform']),
        ok('report', ['load']),
        ok('audit', ['extract']),
      ],
    })
    const fine = defineDag({ name: 'fine', description: 'works', tasks: [ok('only')] })
    const s = scheduler([doomed, fine], { bus })
    s.start()
    const info = await s.waitFor(await s.trigger('doomed'), { timeoutMs: 8_000 })
    expect(info.status).toBe('failed')
    expect(info.error).toBe('task "transform" failed after 2 tries: disk on fire')
    expect(Object.fromEntries(info.tasks.map((t) => [t.task, [t.status, t.tries]]))).toEqual({
      extract: ['succeeded', 1],
      transform: ['failed', 2],
      load: ['upstream_failed', 0],
      report: ['upstream_failed', 0],
      audit: ['succeeded', 1],
    })
    expect(ran.sort()).toEqual(['audit', 'extract', 'transform', 'transform'])

    const failed = findings.filter((f) => f.kind === 'pipeline.run_failed')
    expect(failed).toHaveLength(1)
    const finding = failed[0] as Finding
    expect(finding.severity).toBe('critical')
    expect(finding.source).toBe('scheduler')
    expect(finding.reason).toContain('task "transform" failed after 2 tries: disk on fire')
    expect(finding.reason).toContain('Not run because of it: load, report')
    expect(finding.evidence).toMatchObject({
      dag: 'doomed',
      dagRunId: info.dagRunId,
      trigger: 'manual',
      failedTasks: [{ task: 'transform', tries: 2, error: 'disk on fire' }],
      upstreamFailed: ['load', 'report'],
    })

    // A successful run raises nothing.
    const good = await s.waitFor(await s.trigger('fine'), { timeoutMs: 5_000 })
    expect(good.status).toBe('succeeded')
    expect(findings.filter((f) => f.evidence.dagRunId === good.dagRunId)).toEqual([])
    expect(findings).toHaveLength(1)
  })
})

describe('deadlines and timeouts', () => {
  it('raises a deadline alert while a slow run is still running, once', async () => {
    const bus = new EventBus()
    const findings = collect(bus)
    let taskDone = false
    let alertedWhileRunning: boolean | undefined
    bus.findings$.subscribe((f) => {
      if (f.kind === 'pipeline.deadline_missed') alertedWhileRunning ??= !taskDone
    })
    const dag = defineDag({
      name: 'sluggish',
      description: 'slower than its deadline',
      deadlineMs: 100,
      tasks: [
        {
          name: 'crawl',
          async run(ctx) {
            await sleep(600, ctx.signal)
            taskDone = true
          },
        },
      ],
    })
    const s = scheduler([dag], { bus })
    s.start()
    const id = await s.trigger('sluggish')
    const info = await s.waitFor(id, { timeoutMs: 5_000 })
    expect(info.status).toBe('succeeded')
    expect(alertedWhileRunning).toBe(true)
    expect(info.deadlineAlerted).toBe(true)
    const alerts = findings.filter((f) => f.kind === 'pipeline.deadline_missed')
    expect(alerts).toHaveLength(1)
    const alert = alerts[0] as Finding
    expect(alert.severity).toBe('warning')
    expect(alert.reason).toMatch(/DAG "sluggish" run \d+ .* past its 100 ms deadline; it keeps running\./)
    expect(alert.evidence).toMatchObject({ dag: 'sluggish', dagRunId: id, deadlineMs: 100 })
    const elapsed = alert.evidence.elapsedMs as number
    expect(elapsed).toBeGreaterThanOrEqual(100)
    expect(elapsed).toBeLessThan(600)
    expect(alert.at).toBeLessThan((info.finishedAt as Date).getTime())
  })

  it('aborts the signal of a task that runs past its timeout and fails the try, even if the task ignores it', async () => {
    let reason: unknown
    let stubbornFinished = false
    const dag = defineDag({
      name: 'overrun',
      description: 'two tasks longer than their timeout',
      maxActiveTasks: 2,
      tasks: [
        {
          name: 'polite',
          retries: 0,
          timeoutMs: 100,
          run: (ctx: TaskContext) =>
            new Promise<void>((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                reason = ctx.signal.reason
                resolve()
              })
            }),
        },
        {
          name: 'stubborn',
          retries: 0,
          timeoutMs: 100,
          async run() {
            await sleep(1_500)
            stubbornFinished = true
          },
        },
      ],
    })
    const s = scheduler([dag])
    s.start()
    const info = await s.waitFor(await s.trigger('overrun'), { timeoutMs: 5_000 })
    expect(info.status).toBe('failed')
    expect(isCairnError(reason, 'CAIRN_ERR_SCHEDULER_TASK_TIMEOUT')).toBe(true)
    expect(stubbornFinished).toBe(false)
    const rows = await taskRows(info.dagRunId)
    expect(rows.map((r) => [r.task, r.status])).toEqual([
      ['polite', 'failed'],
      ['stubborn', 'failed'],
    ])
    for (const r of rows) expect(r.error).toMatch(/took longer than 100 ms/)
  })
})

describe('rerunFailed, runTask and stop', () => {
  it('re-runs only the failed and upstream_failed tasks of a failed run', async () => {
    const counts: Record<string, number> = {}
    let breakB = true
    const step = (name: string, dependsOn: string[] = []) => ({
      name,
      dependsOn,
      retries: 0,
      async run() {
        counts[name] = (counts[name] ?? 0) + 1
        if (name === 'b' && breakB) throw new Error('b is broken')
      },
    })
    const dag = defineDag({
      name: 'fragile',
      description: 'b fails the first time',
      tasks: [step('a'), step('b', ['a']), step('c', ['b']), step('d')],
    })
    const s = scheduler([dag])
    s.start()
    const id = await s.trigger('fragile')
    const first = await s.waitFor(id, { timeoutMs: 5_000 })
    expect(first.status).toBe('failed')
    expect(first.tasks.map((t) => [t.task, t.status])).toEqual([
      ['a', 'succeeded'],
      ['b', 'failed'],
      ['c', 'upstream_failed'],
      ['d', 'succeeded'],
    ])

    breakB = false
    expect(await s.rerunFailed(id)).toBe(id)
    const second = await s.waitFor(id, { timeoutMs: 5_000 })
    expect(second).toMatchObject({ status: 'succeeded', trigger: 'rerun', attempt: 2, error: null })
    expect(counts).toEqual({ a: 1, b: 2, c: 1, d: 1 })
    const rows = await taskRows(id)
    expect(rows.map((r) => [r.task, r.attempt, r.dag_run_attempt, r.status])).toEqual([
      ['a', 1, 1, 'succeeded'],
      ['b', 1, 1, 'failed'],
      ['b', 2, 2, 'succeeded'],
      ['c', 1, 1, 'upstream_failed'],
      ['c', 2, 2, 'succeeded'],
      ['d', 1, 1, 'succeeded'],
    ])

    await expect(s.rerunFailed(id)).rejects.toSatisfy((e) => isCairnError(e, 'CAIRN_ERR_SCHEDULER_RUN_NOT_RERUNNABLE'))
    await expect(s.rerunFailed(987_654)).rejects.toSatisfy((e) => isCairnError(e, 'CAIRN_ERR_SCHEDULER_UNKNOWN_RUN'))
  })

  it('runTask runs exactly one task, with its retries, without a started scheduler', async () => {
    const calls: { task: string; interval: TaskContext['interval'] }[] = []
    const dag = defineDag({
      name: 'single',
      description: 'prep then work',
      schedule: '0 3 * * *',
      tasks: [
        {
          name: 'prep',
          async run(ctx) {
            calls.push({ task: 'prep', interval: ctx.interval })
          },
        },
        {
          name: 'work',
          dependsOn: ['prep'],
          retries: 2,
          retryDelayMs: 20,
          async run(ctx) {
            calls.push({ task: 'work', interval: ctx.interval })
            if (ctx.attempt === 1) throw new Error('cold start')
          },
        },
      ],
    })
    const s = scheduler([dag])
    const interval = { from: new Date('2025-02-01T03:00:00Z'), to: new Date('2025-02-02T03:00:00Z') }
    const info = await s.runTask('single', 'work', { interval })
    expect(info).toMatchObject({ status: 'succeeded', trigger: 'manual', taskScope: ['work'], interval })
    expect(info.runKey).toMatch(/^manual:[0-9a-f-]{36}$/)
    expect(info.tasks).toEqual([{ task: 'work', status: 'succeeded', tries: 2, error: null }])
    expect(calls.map((c) => c.task)).toEqual(['work', 'work'])
    expect(calls[0]?.interval).toEqual(interval)

    await expect(s.runTask('single', 'nope')).rejects.toSatisfy((e) =>
      isCairnError(e, 'CAIRN_ERR_SCHEDULER_UNKNOWN_TASK'),
    )
    await expect(s.runTask('nothing', 'work')).rejects.toSatisfy((e) =>
      isCairnError(e, 'CAIRN_ERR_SCHEDULER_UNKNOWN_DAG'),
    )
    await expect(s.trigger('single', { interval: { from: interval.to, to: interval.from } })).rejects.toSatisfy((e) =>
      isCairnError(e, 'CAIRN_ERR_SCHEDULER_INVALID_REQUEST'),
    )
  })

  it('stop() aborts running tasks and queues the run again; another scheduler resumes it, keeping what succeeded', async () => {
    const counts = { first: 0, second: 0 }
    let stopReason: unknown
    let secondStarted = false
    const dag = defineDag({
      name: 'resumable',
      description: 'interrupted in its second task',
      tasks: [
        {
          name: 'first',
          async run() {
            counts.first++
          },
        },
        {
          name: 'second',
          dependsOn: ['first'],
          async run(ctx) {
            counts.second++
            if (counts.second > 1) return
            secondStarted = true
            await new Promise<void>((resolve) =>
              ctx.signal.addEventListener('abort', () => {
                stopReason = ctx.signal.reason
                resolve()
              }),
            )
          },
        },
      ],
    })
    const s1 = scheduler([dag], { instanceId: 'one' })
    s1.start()
    const id = await s1.trigger('resumable')
    await until('the second task to start', () => secondStarted)
    await s1.stop()
    expect(isCairnError(stopReason, 'CAIRN_ERR_SCHEDULER_STOPPED')).toBe(true)
    const { rows } = await database.pool.query(
      'SELECT status, attempt, claimed_by FROM cairn_meta.dag_runs WHERE dag_run_id = $1',
      [id],
    )
    expect(rows[0]).toEqual({ status: 'queued', attempt: 2, claimed_by: null })

    const s2 = scheduler([dag], { instanceId: 'two' })
    s2.start()
    const info = await s2.waitFor(id, { timeoutMs: 5_000 })
    expect(info).toMatchObject({ status: 'succeeded', attempt: 2, claimedBy: 'two' })
    expect(counts).toEqual({ first: 1, second: 2 })
    expect((await taskRows(id)).map((r) => [r.task, r.dag_run_attempt, r.status])).toEqual([
      ['first', 1, 'succeeded'],
      ['second', 1, 'failed'],
      ['second', 2, 'succeeded'],
    ])
  })
})
