import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { type EventBus, errors, type Logger } from '@cairn/core'
import { Cron } from 'croner'
import type pg from 'pg'
import { type Interval, latestCompletePeriod, parseSchedule, periodEndingAt, periodsBetween } from './cron-periods.js'
import type { DagDefinition, TaskContext, TaskDefinition } from './dag.js'
import { DAG_DEFAULTS, downstreamOf, TASK_DEFAULTS, topologicalOrder, validateDags } from './dag-validation.js'
import { errorDetail, errorMessage, formatMs, retryDelay, sleep, storableText } from './scheduler-util.js'

export type DagRunTrigger = 'schedule' | 'manual' | 'backfill' | 'data' | 'rerun'
export type DagRunStatus = 'queued' | 'running' | 'succeeded' | 'failed'
export type TaskRunStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'upstream_failed'
/** Backfill over periods that already have a run: leave them, re-run the failed ones, or re-run all. */
export type ReprocessMode = 'none' | 'failed' | 'all'

export interface SchedulerOptions {
  readonly pool: pg.Pool
  readonly dags: readonly DagDefinition[]
  readonly log: Logger
  /** Where alerts (`pipeline.*` findings) go. Without one they are only logged. */
  readonly bus?: EventBus
  /** Names this process in `dag_runs.claimed_by` (default `<host>:<pid>:<random>`). */
  readonly instanceId?: string
  /** How often queued runs are polled, claims refreshed and deadlines checked (default 1000 ms). */
  readonly tickMs?: number
  /** Runs this instance executes at once, all DAGs together (default 4). */
  readonly maxConcurrentRuns?: number
  /** A running run whose claim was not refreshed for this long is taken over (default 60 s). */
  readonly staleAfterMs?: number
  /** How long `stop()` waits for aborted tasks to return (default 10 s). */
  readonly stopGraceMs?: number
}

/** The latest state of one task in a run. */
export interface TaskState {
  readonly task: string
  readonly status: TaskRunStatus
  /** Tries so far, over all attempts of the run. */
  readonly tries: number
  readonly error: string | null
}

export interface DagRunInfo {
  readonly dagRunId: number
  readonly dag: string
  readonly runKey: string
  readonly trigger: DagRunTrigger
  readonly status: DagRunStatus
  readonly interval: Interval
  /** The tasks the run covers, or null for all. */
  readonly taskScope: readonly string[] | null
  /** 1, then one more each time the run is queued again. */
  readonly attempt: number
  readonly claimedBy: string | null
  readonly queuedAt: Date
  readonly startedAt: Date | null
  readonly finishedAt: Date | null
  readonly deadlineAt: Date | null
  readonly deadlineAlerted: boolean
  readonly error: string | null
  readonly tasks: readonly TaskState[]
}

/** One row of `cairn_meta.task_runs`. */
export interface TaskRunRecord {
  readonly dagRunId: number
  readonly task: string
  readonly attempt: number
  readonly dagRunAttempt: number
  readonly status: TaskRunStatus
  readonly startedAt: Date | null
  readonly finishedAt: Date | null
  readonly error: string | null
  readonly log: string
  readonly summary: Record<string, unknown> | null
}

interface RunRow {
  dag_run_id: string
  dag: string
  run_key: string
  interval_from: Date
  interval_to: Date
  trigger: DagRunTrigger
  status: DagRunStatus
  tasks: string[] | null
  attempt: number
  keep_from_attempt: number
  claimed_by: string | null
  queued_at: Date
  started_at: Date | null
  finished_at: Date | null
  deadline_at: Date | null
  deadline_alerted: boolean
  error: string | null
}

interface ActiveRun {
  readonly controller: AbortController
  readonly done: Promise<void>
}

type TryResult = { ok: true } | { ok: false; error: string; aborted: boolean }
type TaskResult = { ok: true } | { ok: false; error: string; tries: number; aborted: boolean }

const RUN_COLUMNS = `dag_run_id, dag, run_key, interval_from, interval_to, trigger, status, tasks, attempt,
  keep_from_attempt, claimed_by, queued_at, started_at, finished_at, deadline_at, deadline_alerted, error`
const TERMINAL: readonly DagRunStatus[] = ['succeeded', 'failed']
const FINDING_SOURCE = 'scheduler'
/** Puts a finished (or abandoned) run back in the queue as its next attempt. */
const REQUEUE_SET = `status = 'queued', attempt = attempt + 1, claimed_by = NULL, heartbeat_at = NULL,
  started_at = NULL, finished_at = NULL, deadline_at = NULL, deadline_alerted = false, error = NULL`

/**
 * Runs DAGs: on their cron schedules (UTC), when triggered, as backfills, and when an upstream DAG changed
 * data. Any number of schedulers (one per Cairn process) may share a database: a run is executed by the
 * one that claims it in PostgreSQL, and a period has one row (UNIQUE (dag, run_key)).
 */
export class Scheduler {
  readonly instanceId: string
  readonly #pool: pg.Pool
  readonly #log: Logger
  readonly #bus: EventBus | undefined
  readonly #dags: Map<string, DagDefinition>
  readonly #crons = new Map<string, Cron>()
  readonly #order = new Map<string, TaskDefinition[]>()
  readonly #tickMs: number
  readonly #maxConcurrentRuns: number
  readonly #staleAfterMs: number
  readonly #stopGraceMs: number
  readonly #active = new Map<number, ActiveRun>()
  /** Task functions still running (also after their try was failed by a timeout). */
  readonly #taskPromises = new Set<Promise<unknown>>()
  #jobs: Cron[] = []
  #tickTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #ticking: Promise<void> | undefined
  #pumping: Promise<void> | undefined
  #pumpAgain = false
  #state: 'idle' | 'started' | 'stopping' | 'stopped' = 'idle'

  constructor(options: SchedulerOptions) {
    const dags = validateDags(options.dags)
    this.#dags = new Map(dags.map((d) => [d.name, d]))
    for (const dag of dags) {
      this.#order.set(dag.name, topologicalOrder(dag))
      if (dag.schedule !== undefined) this.#crons.set(dag.name, parseSchedule(dag.schedule))
    }
    this.#pool = options.pool
    this.#log = options.log
    this.#bus = options.bus
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.#tickMs = positive('tickMs', options.tickMs ?? 1_000)
    this.#maxConcurrentRuns = positive('maxConcurrentRuns', options.maxConcurrentRuns ?? 4)
    this.#staleAfterMs = positive('staleAfterMs', options.staleAfterMs ?? 60_000)
    this.#stopGraceMs = positive('stopGraceMs', options.stopGraceMs ?? 10_000)
  }

  /** The DAGs this scheduler knows, validated. */
  get dags(): readonly DagDefinition[] {
    return [...this.#dags.values()]
  }

  /**
   * Starts the cron jobs of the scheduled DAGs and the tick that claims queued runs, refreshes this
   * instance's claims, takes over stale ones and raises deadline alerts. Periods missed while no
   * scheduler was running are not run; backfill them.
   */
  start(): void {
    if (this.#state === 'started') return
    if (this.#state !== 'idle') throw errors.SCHEDULER_INVALID_REQUEST('a stopped scheduler cannot be started again')
    this.#state = 'started'
    for (const [name, cron] of this.#crons) {
      const dag = this.#dags.get(name) as DagDefinition
      const job = new Cron(
        dag.schedule as string,
        { timezone: 'UTC', catch: (err) => this.#log.error({ err, dag: name }, 'scheduled trigger failed') },
        async (self) => {
          try {
            const interval = periodEndingAt(cron, self.currentRun() ?? new Date())
            const id = await this.trigger(name, { interval, trigger: 'schedule' })
            this.#log.debug({ dag: name, dagRunId: id, from: interval.from, to: interval.to }, 'scheduled run queued')
          } catch (err) {
            this.#log.error({ err, dag: name }, 'queueing a scheduled run failed')
          }
        },
      )
      this.#jobs.push(job)
    }
    this.#tickTimer = setInterval(() => void this.#tick(), this.#tickMs)
    this.#log.info({ instanceId: this.instanceId, dags: [...this.#dags.keys()] }, 'scheduler started')
    void this.#tick()
  }

  /**
   * Stops scheduling and claiming, aborts the signals of running tasks and waits for them (up to
   * `stopGraceMs`). Runs interrupted this way are queued again (attempt + 1), keeping the tasks that
   * already succeeded, so this or another scheduler resumes them; a `runTask` run is failed instead.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') {
      await this.#settle()
      return
    }
    this.#state = 'stopping'
    for (const job of this.#jobs) job.stop()
    this.#jobs = []
    if (this.#tickTimer) clearInterval(this.#tickTimer)
    this.#tickTimer = undefined
    const reason = errors.SCHEDULER_STOPPED(`scheduler ${this.instanceId}`)
    for (const run of this.#active.values()) run.controller.abort(reason)
    await this.#settle()
    this.#state = 'stopped'
    this.#log.info({ instanceId: this.instanceId }, 'scheduler stopped')
  }

  async #settle(): Promise<void> {
    await Promise.allSettled([this.#ticking, this.#pumping])
    await Promise.allSettled([...this.#active.values()].map((r) => r.done))
    if (this.#taskPromises.size > 0) {
      const settled = Promise.allSettled([...this.#taskPromises]).then(() => true)
      const inTime = await Promise.race([settled, sleep(this.#stopGraceMs).then(() => false)])
      if (!inTime) {
        this.#log.warn({ tasks: this.#taskPromises.size }, 'tasks ignored their abort signal and are still running')
      }
    }
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer)
    this.#heartbeatTimer = undefined
  }

  /**
   * Queues a run and returns its id. `manual` (the default) and `data` runs always get a new row
   * (`manual:<uuid>`); `schedule` and `backfill` runs are keyed by their period, so asking again for a
   * period that has a row returns that row's id. Without an interval, a manual run covers the period
   * ending now (see `TaskContext.interval`). A started scheduler claims it at once.
   */
  async trigger(
    dag: string,
    options: { interval?: Interval; trigger?: Exclude<DagRunTrigger, 'rerun'> } = {},
  ): Promise<number> {
    const def = this.#dag(dag)
    const kind = options.trigger ?? 'manual'
    if (!['manual', 'schedule', 'backfill', 'data'].includes(kind)) {
      throw errors.SCHEDULER_INVALID_REQUEST(`trigger "${kind}" cannot be queued directly; use rerunFailed()`)
    }
    const interval = checkInterval(options.interval ?? (await this.#defaultInterval(def)))
    const periodic = kind === 'schedule' || kind === 'backfill'
    const runKey = periodic ? interval.from.toISOString() : `${kind}:${randomUUID()}`
    const inserted = await this.#pool.query<{ dag_run_id: string }>(
      `INSERT INTO cairn_meta.dag_runs (dag, run_key, interval_from, interval_to, trigger)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (dag, run_key) DO NOTHING
       RETURNING dag_run_id`,
      [dag, runKey, interval.from, interval.to, kind],
    )
    // A period that has a row already (maybe just inserted by another scheduler): a new statement sees it.
    const row =
      inserted.rows[0] ??
      (
        await this.#pool.query<{ dag_run_id: string }>(
          'SELECT dag_run_id FROM cairn_meta.dag_runs WHERE dag = $1 AND run_key = $2',
          [dag, runKey],
        )
      ).rows[0]
    if (!row) throw errors.SCHEDULER_UNKNOWN_RUN(`no run "${runKey}" of "${dag}" after queueing it`)
    if (inserted.rows[0]) this.#kick()
    return Number(row.dag_run_id)
  }

  /**
   * Queues one run per cron period lying inside [from, to), in order, and returns the ids of the runs
   * queued. A period's run_key is its start, the same as its scheduled run's, so each period has one
   * row. For periods that already have a row: `none` leaves them; `failed` queues the failed ones again
   * (same row, attempt + 1, tasks that succeeded are kept, like `rerunFailed`); `all` queues every
   * finished one again with all its tasks. Runs still queued or running are left as they are.
   */
  async backfill(dag: string, options: { from: Date; to: Date; reprocess?: ReprocessMode }): Promise<number[]> {
    const def = this.#dag(dag)
    const cron = this.#crons.get(def.name)
    if (!cron) throw errors.SCHEDULER_INVALID_REQUEST(`DAG "${dag}" has no schedule, so it has no periods to backfill`)
    const { from, to } = checkInterval({ from: options.from, to: options.to })
    const reprocess = options.reprocess ?? 'none'
    if (!['none', 'failed', 'all'].includes(reprocess)) {
      throw errors.SCHEDULER_INVALID_REQUEST(`reprocess must be none, failed or all (got ${JSON.stringify(reprocess)})`)
    }
    let periods: Interval[]
    try {
      periods = periodsBetween(cron, from, to)
    } catch (err) {
      throw errors.SCHEDULER_INVALID_REQUEST(errorMessage(err))
    }
    const ids: number[] = []
    for (const period of periods) {
      const runKey = period.from.toISOString()
      const inserted = await this.#pool.query<{ dag_run_id: string }>(
        `INSERT INTO cairn_meta.dag_runs (dag, run_key, interval_from, interval_to, trigger)
         VALUES ($1, $2, $3, $4, 'backfill')
         ON CONFLICT (dag, run_key) DO NOTHING
         RETURNING dag_run_id`,
        [dag, runKey, period.from, period.to],
      )
      if (inserted.rows[0]) {
        ids.push(Number(inserted.rows[0].dag_run_id))
        continue
      }
      if (reprocess === 'none') continue
      const requeued = await this.#pool.query<{ dag_run_id: string }>(
        `UPDATE cairn_meta.dag_runs SET ${REQUEUE_SET}, trigger = 'backfill',
           keep_from_attempt = CASE WHEN $3 THEN attempt + 1 ELSE keep_from_attempt END
         WHERE dag = $1 AND run_key = $2 AND status = ANY($4)
         RETURNING dag_run_id`,
        [dag, runKey, reprocess === 'all', reprocess === 'all' ? ['succeeded', 'failed'] : ['failed']],
      )
      if (requeued.rows[0]) ids.push(Number(requeued.rows[0].dag_run_id))
    }
    this.#log.info({ dag, from, to, reprocess, periods: periods.length, queued: ids.length }, 'backfill queued')
    this.#kick()
    return ids
  }

  /**
   * Queues a failed run again (same row, attempt + 1, trigger `rerun`): only its failed and
   * upstream_failed tasks run; the tasks that succeeded are kept.
   */
  async rerunFailed(dagRunId: number): Promise<number> {
    const { rows } = await this.#pool.query<{ dag: string; status: DagRunStatus }>(
      'SELECT dag, status FROM cairn_meta.dag_runs WHERE dag_run_id = $1',
      [dagRunId],
    )
    const found = rows[0]
    if (!found) throw errors.SCHEDULER_UNKNOWN_RUN(String(dagRunId))
    this.#dag(found.dag)
    const requeued = await this.#pool.query(
      `UPDATE cairn_meta.dag_runs SET ${REQUEUE_SET}, trigger = 'rerun' WHERE dag_run_id = $1 AND status = 'failed'`,
      [dagRunId],
    )
    if (requeued.rowCount === 0) {
      throw errors.SCHEDULER_RUN_NOT_RERUNNABLE(`run ${dagRunId} of "${found.dag}" is ${found.status}, not failed`)
    }
    this.#kick()
    return dagRunId
  }

  /**
   * Runs one task of a DAG now, in this process, with its retries and timeout, whether or not the
   * scheduler is started and regardless of `maxActiveRuns`. It is recorded as a `manual` run covering
   * only that task; its dependencies are not run. Resolves when the task has succeeded or finally failed.
   */
  async runTask(dag: string, task: string, options: { interval?: Interval } = {}): Promise<DagRunInfo> {
    const def = this.#dag(dag)
    if (!def.tasks.some((t) => t.name === task)) {
      throw errors.SCHEDULER_UNKNOWN_TASK(
        `"${task}" in DAG "${dag}" (tasks: ${def.tasks.map((t) => t.name).join(', ')})`,
      )
    }
    if (this.#state === 'stopping' || this.#state === 'stopped') throw errors.SCHEDULER_STOPPED(this.instanceId)
    const interval = checkInterval(options.interval ?? (await this.#defaultInterval(def)))
    const { rows } = await this.#pool.query<RunRow>(
      `INSERT INTO cairn_meta.dag_runs (dag, run_key, interval_from, interval_to, trigger, tasks, status, claimed_by,
         started_at, heartbeat_at, deadline_at)
       VALUES ($1, $2, $3, $4, 'manual', $5, 'running', $6, now(), now(), now() + make_interval(secs => $7::float8 / 1000))
       RETURNING ${RUN_COLUMNS}`,
      [dag, `manual:${randomUUID()}`, interval.from, interval.to, [task], this.instanceId, def.deadlineMs ?? null],
    )
    const run = rows[0] as RunRow
    await this.#launch(run, { requeueOnAbort: false }).done
    return this.#runInfoOrThrow(Number(run.dag_run_id))
  }

  /** Resolves with the run once it has succeeded or failed (whichever scheduler runs it). */
  async waitFor(dagRunId: number, options: { timeoutMs?: number } = {}): Promise<DagRunInfo> {
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs
    const pollMs = Math.min(this.#tickMs, 100)
    for (;;) {
      const info = await this.#runInfoOrThrow(dagRunId)
      if (TERMINAL.includes(info.status)) return info
      if (Date.now() >= deadline) {
        throw errors.SCHEDULER_WAIT_TIMEOUT(`run ${dagRunId} of "${info.dag}" is still ${info.status}`)
      }
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())))
    }
  }

  /** Recent runs, newest first, with the latest state of each of their tasks. */
  async status(options: { dag?: string; limit?: number } = {}): Promise<DagRunInfo[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 20, 1_000))
    return this.#runInfos(
      `SELECT ${RUN_COLUMNS} FROM cairn_meta.dag_runs WHERE ($1::text IS NULL OR dag = $1) ORDER BY dag_run_id DESC LIMIT $2`,
      [options.dag ?? null, limit],
    )
  }

  /** Every task row of a run, tries and upstream_failed marks, with their logs, in order. */
  async taskRuns(dagRunId: number): Promise<TaskRunRecord[]> {
    const { rows } = await this.#pool.query<{
      dag_run_id: string
      task: string
      attempt: number
      dag_run_attempt: number
      status: TaskRunStatus
      started_at: Date | null
      finished_at: Date | null
      error: string | null
      log: string
      summary: Record<string, unknown> | null
    }>(
      `SELECT dag_run_id, task, attempt, dag_run_attempt, status, started_at, finished_at, error, log, summary
       FROM cairn_meta.task_runs WHERE dag_run_id = $1 ORDER BY dag_run_attempt, started_at NULLS LAST, task, attempt`,
      [dagRunId],
    )
    return rows.map((r) => ({
      dagRunId: Number(r.dag_run_id),
      task: r.task,
      attempt: r.attempt,
      dagRunAttempt: r.dag_run_attempt,
      status: r.status,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      error: r.error,
      log: r.log,
      summary: r.summary,
    }))
  }

  // ---------------------------------------------------------------------------------------------
  // Claiming

  #kick(): void {
    if (this.#state === 'started') void this.#pump()
  }

  /** Claims and launches queued runs while this instance has room. One pump at a time. */
  #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true
      return this.#pumping
    }
    // Cleared in .finally, which always runs later: the loop may finish synchronously (no room), and
    // clearing it inside would happen before this assignment and leave a settled pump in place forever.
    const pumping = this.#pumpLoop().finally(() => {
      if (this.#pumping === pumping) this.#pumping = undefined
    })
    this.#pumping = pumping
    return pumping
  }

  async #pumpLoop(): Promise<void> {
    try {
      do {
        this.#pumpAgain = false
        while (this.#state === 'started' && this.#active.size < this.#maxConcurrentRuns) {
          const run = await this.#claimOne()
          if (!run) break
          const active = this.#launch(run, { requeueOnAbort: true })
          // stop() began while this claim was in flight: hand the run straight back to the queue.
          if (this.#state !== 'started') active.controller.abort(errors.SCHEDULER_STOPPED(this.instanceId))
        }
      } while (this.#pumpAgain && this.#state === 'started')
    } catch (err) {
      this.#log.error({ err }, 'claiming queued runs failed')
    }
  }

  async #claimOne(): Promise<RunRow | undefined> {
    const { rows } = await this.#pool.query<{ dag: string }>(
      `SELECT dag FROM cairn_meta.dag_runs WHERE status = 'queued' AND dag = ANY($1)
       GROUP BY dag ORDER BY min(queued_at), dag`,
      [[...this.#dags.keys()]],
    )
    for (const { dag } of rows) {
      const run = await this.#claimFor(this.#dag(dag))
      if (run) return run
    }
    return undefined
  }

  /**
   * Claims the oldest queued run of a DAG if fewer than `maxActiveRuns` of its runs are running. The
   * per-DAG advisory lock serialises the count and the claim across schedulers; SKIP LOCKED keeps a
   * claim from waiting on a row another transaction is re-queueing. Times are clock_timestamp(): now()
   * would be when the transaction began, before it waited for the lock.
   */
  async #claimFor(dag: DagDefinition): Promise<RunRow | undefined> {
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('cairn.scheduler'), hashtext($1))`, [dag.name])
      const active = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM cairn_meta.dag_runs WHERE dag = $1 AND status = 'running'`,
        [dag.name],
      )
      if ((active.rows[0]?.n ?? 0) >= (dag.maxActiveRuns ?? DAG_DEFAULTS.maxActiveRuns)) {
        await client.query('COMMIT')
        return undefined
      }
      const { rows } = await client.query<RunRow>(
        `UPDATE cairn_meta.dag_runs
         SET status = 'running', claimed_by = $2, started_at = clock_timestamp(), heartbeat_at = clock_timestamp(),
             finished_at = NULL, error = NULL, deadline_alerted = false,
             deadline_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
         WHERE dag_run_id = (
           SELECT dag_run_id FROM cairn_meta.dag_runs WHERE dag = $1 AND status = 'queued'
           ORDER BY queued_at, dag_run_id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING ${RUN_COLUMNS}`,
        [dag.name, this.instanceId, dag.deadlineMs ?? null],
      )
      await client.query('COMMIT')
      return rows[0]
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#state !== 'started') return
    const ticking = (async () => {
      try {
        await this.#requeueStale()
        await this.#alertDeadlines()
      } catch (err) {
        this.#log.error({ err }, 'scheduler tick failed')
      }
      await this.#pump()
    })()
    this.#ticking = ticking
    try {
      await ticking
    } finally {
      if (this.#ticking === ticking) this.#ticking = undefined
    }
  }

  /** Refreshes this instance's claims; a run whose claim was lost (taken over) is aborted here. */
  async #heartbeat(): Promise<void> {
    const ids = [...this.#active.keys()]
    if (ids.length === 0) return
    try {
      const { rows } = await this.#pool.query<{ dag_run_id: string }>(
        `UPDATE cairn_meta.dag_runs SET heartbeat_at = now()
         WHERE dag_run_id = ANY($1) AND claimed_by = $2 AND status = 'running' RETURNING dag_run_id`,
        [ids, this.instanceId],
      )
      const held = new Set(rows.map((r) => Number(r.dag_run_id)))
      for (const id of ids) {
        const run = this.#active.get(id)
        if (run && !held.has(id) && !run.controller.signal.aborted) {
          this.#log.warn({ dagRunId: id }, 'lost the claim on a run (taken over by another scheduler); aborting it')
          run.controller.abort(errors.SCHEDULER_STOPPED(`run ${id} was taken over by another scheduler`))
        }
      }
    } catch (err) {
      this.#log.error({ err }, 'refreshing run claims failed')
    }
  }

  /**
   * Queues again the running runs whose claim has not been refreshed for `staleAfterMs` (their
   * scheduler died), failing their tries that were left running.
   */
  async #requeueStale(): Promise<void> {
    const { rows } = await this.#pool.query<{ dag_run_id: string; dag: string; previous_owner: string }>(
      `WITH stale AS (
         SELECT dag_run_id, claimed_by FROM cairn_meta.dag_runs
         WHERE status = 'running' AND dag = ANY($1) AND heartbeat_at < now() - make_interval(secs => $2::float8 / 1000)
         FOR UPDATE SKIP LOCKED),
       requeued AS (
         UPDATE cairn_meta.dag_runs r SET ${REQUEUE_SET}
         FROM stale WHERE r.dag_run_id = stale.dag_run_id
         RETURNING r.dag_run_id, r.dag, stale.claimed_by AS previous_owner),
       abandoned AS (
         UPDATE cairn_meta.task_runs t
         SET status = 'failed', finished_at = now(),
             error = 'abandoned: scheduler ' || requeued.previous_owner || ' stopped refreshing its claim'
         FROM requeued WHERE t.dag_run_id = requeued.dag_run_id AND t.status = 'running')
       SELECT dag_run_id, dag, previous_owner FROM requeued`,
      [[...this.#dags.keys()], this.#staleAfterMs],
    )
    for (const r of rows) {
      this.#log.warn(
        { dagRunId: Number(r.dag_run_id), dag: r.dag, previousOwner: r.previous_owner },
        'took over a run whose scheduler stopped refreshing its claim; queued it again',
      )
    }
  }

  /**
   * Marks running runs past their deadline as alerted and publishes one `pipeline.deadline_missed`
   * finding for each. The UPDATE makes sure only one scheduler alerts for a run.
   */
  async #alertDeadlines(onlyRun?: number): Promise<void> {
    const { rows } = await this.#pool.query<{
      dag_run_id: string
      dag: string
      run_key: string
      trigger: DagRunTrigger
      started_at: Date
      deadline_at: Date
      claimed_by: string
      elapsed_ms: number
    }>(
      `UPDATE cairn_meta.dag_runs SET deadline_alerted = true
       WHERE status = 'running' AND NOT deadline_alerted AND deadline_at <= now() AND dag = ANY($1)
         AND ($2::bigint IS NULL OR dag_run_id = $2)
       RETURNING dag_run_id, dag, run_key, trigger, started_at, deadline_at, claimed_by,
         (extract(epoch FROM clock_timestamp() - started_at) * 1000)::float8 AS elapsed_ms`,
      [[...this.#dags.keys()], onlyRun ?? null],
    )
    for (const r of rows) {
      const deadlineMs = this.#dags.get(r.dag)?.deadlineMs ?? r.deadline_at.getTime() - r.started_at.getTime()
      const elapsedMs = Math.round(r.elapsed_ms)
      const reason = `DAG "${r.dag}" run ${r.dag_run_id} (${r.trigger}, ${r.run_key}) has been running for ${formatMs(elapsedMs)}, past its ${formatMs(deadlineMs)} deadline; it keeps running.`
      this.#log.warn({ dag: r.dag, dagRunId: Number(r.dag_run_id), elapsedMs, deadlineMs }, reason)
      this.#bus?.publishFinding({
        kind: 'pipeline.deadline_missed',
        source: FINDING_SOURCE,
        severity: 'warning',
        reason,
        evidence: {
          dag: r.dag,
          dagRunId: Number(r.dag_run_id),
          runKey: r.run_key,
          trigger: r.trigger,
          startedAt: r.started_at.toISOString(),
          deadlineAt: r.deadline_at.toISOString(),
          deadlineMs,
          elapsedMs,
          claimedBy: r.claimed_by,
        },
      })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Executing

  #launch(run: RunRow, options: { requeueOnAbort: boolean }): ActiveRun {
    const id = Number(run.dag_run_id)
    const controller = new AbortController()
    const dag = this.#dag(run.dag)
    let deadlineTimer: NodeJS.Timeout | undefined
    if (dag.deadlineMs !== undefined) {
      // A little after the deadline, so PostgreSQL's clock has passed deadline_at too; the tick is the backstop.
      deadlineTimer = setTimeout(() => {
        this.#alertDeadlines(id).catch((err) => this.#log.error({ err }, 'deadline check failed'))
      }, dag.deadlineMs + 5)
    }
    const done = this.#execute(run, dag, controller.signal, options)
      .catch((err) => this.#log.error({ err, dagRunId: id, dag: run.dag }, 'DAG run execution failed'))
      .finally(() => {
        clearTimeout(deadlineTimer)
        this.#active.delete(id)
        if (this.#active.size === 0 && this.#heartbeatTimer) {
          clearInterval(this.#heartbeatTimer)
          this.#heartbeatTimer = undefined
        }
        this.#kick()
      })
    const active = { controller, done }
    this.#active.set(id, active)
    this.#heartbeatTimer ??= setInterval(
      () => void this.#heartbeat(),
      Math.max(1, Math.min(this.#tickMs, Math.floor(this.#staleAfterMs / 4))),
    )
    return active
  }

  async #execute(
    run: RunRow,
    dag: DagDefinition,
    signal: AbortSignal,
    options: { requeueOnAbort: boolean },
  ): Promise<void> {
    const id = Number(run.dag_run_id)
    const log = this.#log.child({ dag: dag.name, dagRunId: id, runAttempt: run.attempt })
    const startedAt = Date.now()
    log.info({ trigger: run.trigger, runKey: run.run_key }, 'DAG run started')
    const order = this.#order.get(dag.name) as TaskDefinition[]
    const scope = new Set(run.tasks ?? order.map((t) => t.name))
    const previous = await this.#pool.query<{
      task: string
      attempt: number
      dag_run_attempt: number
      status: TaskRunStatus
    }>('SELECT task, attempt, dag_run_attempt, status FROM cairn_meta.task_runs WHERE dag_run_id = $1', [id])
    const done = new Set<string>()
    const nextAttempt = new Map<string, number>()
    for (const row of previous.rows) {
      nextAttempt.set(row.task, Math.max(nextAttempt.get(row.task) ?? 1, row.attempt + 1))
      if (row.status === 'succeeded' && row.dag_run_attempt >= run.keep_from_attempt) done.add(row.task)
    }
    const pending = order.filter((t) => scope.has(t.name) && !done.has(t.name))
    const failures = new Map<string, { error: string; tries: number }>()
    const upstreamFailed: string[] = []
    const running = new Map<string, Promise<{ task: string; result: TaskResult }>>()
    const maxActiveTasks = dag.maxActiveTasks ?? DAG_DEFAULTS.maxActiveTasks
    let aborted = false

    while (!aborted) {
      for (const task of [...pending]) {
        if (running.size >= maxActiveTasks || signal.aborted) break
        const deps = (task.dependsOn ?? []).filter((d) => scope.has(d))
        if (!deps.every((d) => done.has(d))) continue
        pending.splice(pending.indexOf(task), 1)
        running.set(
          task.name,
          this.#runWithRetries(run, dag, task, nextAttempt, signal, log).then((result) => ({
            task: task.name,
            result,
          })),
        )
      }
      if (running.size === 0) break
      const { task, result } = await Promise.race(running.values())
      running.delete(task)
      if (result.ok) {
        done.add(task)
        continue
      }
      if (result.aborted) {
        aborted = true
        continue
      }
      failures.set(task, { error: result.error, tries: result.tries })
      const downstream = downstreamOf(dag, task)
      for (const t of [...pending]) {
        if (!downstream.has(t.name)) continue
        pending.splice(pending.indexOf(t), 1)
        upstreamFailed.push(t.name)
        await this.#insertTaskRow(run, t.name, nextAttempt, 'upstream_failed', `upstream task "${task}" failed`)
      }
    }
    if (aborted || signal.aborted) {
      // Let the other tasks of the run notice the abort and record their tries.
      await Promise.allSettled(running.values())
      await this.#interrupted(run, signal.reason, options.requeueOnAbort, log)
      return
    }
    await this.#finish(run, dag, failures, upstreamFailed, Date.now() - startedAt, log)
  }

  /** A task with its retries: tries until one succeeds, the retries are used up, or the run is aborted. */
  async #runWithRetries(
    run: RunRow,
    dag: DagDefinition,
    task: TaskDefinition,
    nextAttempt: Map<string, number>,
    signal: AbortSignal,
    log: Logger,
  ): Promise<TaskResult> {
    const retries = task.retries ?? TASK_DEFAULTS.retries
    const baseDelay = task.retryDelayMs ?? TASK_DEFAULTS.retryDelayMs
    const maxDelay = task.maxRetryDelayMs ?? TASK_DEFAULTS.maxRetryDelayMs
    for (let tryNo = 1; ; tryNo++) {
      const result = await this.#runTry(run, dag, task, nextAttempt, signal, log)
      if (result.ok) return result
      if (result.aborted || signal.aborted) return { ok: false, error: result.error, tries: tryNo, aborted: true }
      if (tryNo > retries) return { ok: false, error: result.error, tries: tryNo, aborted: false }
      const delay = retryDelay(tryNo, baseDelay, maxDelay)
      log.warn({ task: task.name, try: tryNo, delayMs: delay, error: result.error }, 'task try failed; retrying')
      await sleep(delay, signal)
      if (signal.aborted) {
        return { ok: false, error: errorMessage(signal.reason), tries: tryNo, aborted: true }
      }
    }
  }

  /** One try: a task_runs row, the task under its timeout, and the outcome written back. */
  async #runTry(
    run: RunRow,
    dag: DagDefinition,
    task: TaskDefinition,
    nextAttempt: Map<string, number>,
    runSignal: AbortSignal,
    runLog: Logger,
  ): Promise<TryResult> {
    const attempt = await this.#insertTaskRow(run, task.name, nextAttempt, 'running')
    if (attempt === undefined) {
      return { ok: false, error: 'the run is no longer claimed by this scheduler', aborted: true }
    }
    const id = Number(run.dag_run_id)
    const log = runLog.child({ task: task.name, attempt })
    const lines: string[] = []
    const timeoutMs = task.timeoutMs ?? TASK_DEFAULTS.timeoutMs
    const tryController = new AbortController()
    const timer = setTimeout(
      () =>
        tryController.abort(
          errors.SCHEDULER_TASK_TIMEOUT(`task "${task.name}" took longer than ${formatMs(timeoutMs)}`),
        ),
      timeoutMs,
    )
    const signal = AbortSignal.any([runSignal, tryController.signal])
    const ctx: TaskContext = {
      pool: this.#pool,
      log,
      signal,
      dag: dag.name,
      task: task.name,
      dagRunId: id,
      attempt,
      interval: { from: new Date(run.interval_from), to: new Date(run.interval_to) },
      appendLog(line: string) {
        lines.push(`${new Date().toISOString()} ${line}`)
        log.debug(line)
      },
    }
    let outcome: { status: 'succeeded' | 'failed'; error?: string; summary?: string; aborted?: boolean }
    let onAbort: (() => void) | undefined
    try {
      const work = Promise.resolve().then(() => task.run(ctx))
      this.#track(work)
      const abortedWork = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason)
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort, { once: true })
      })
      abortedWork.catch(() => {})
      const result = (await Promise.race([work, abortedWork])) as { summary?: unknown } | undefined | null
      const summary = result !== null && typeof result === 'object' ? result.summary : undefined
      outcome = { status: 'succeeded', ...(summary === undefined ? {} : { summary: JSON.stringify(summary) }) }
    } catch (err) {
      const message = signal.aborted ? errorMessage(signal.reason) : errorMessage(err)
      lines.push(`${new Date().toISOString()} failed: ${signal.aborted ? message : errorDetail(err)}`)
      outcome = { status: 'failed', error: message, aborted: runSignal.aborted }
    } finally {
      clearTimeout(timer)
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
    await this.#pool.query(
      `UPDATE cairn_meta.task_runs SET status = $4, finished_at = now(), error = $5, log = $6, summary = $7::jsonb
       WHERE dag_run_id = $1 AND task = $2 AND attempt = $3 AND status = 'running'`,
      [
        id,
        task.name,
        attempt,
        outcome.status,
        outcome.error === undefined ? null : storableText(outcome.error),
        storableText(lines.join('\n')),
        outcome.summary === undefined ? null : storableText(outcome.summary),
      ],
    )
    if (outcome.status === 'succeeded') {
      log.debug('task try succeeded')
      return { ok: true }
    }
    log.warn({ error: outcome.error }, 'task try failed')
    return { ok: false, error: outcome.error ?? 'failed', aborted: outcome.aborted === true }
  }

  /** Keeps a task function's promise until it settles, so stop() can wait for it. */
  #track(promise: Promise<unknown>): void {
    const tracked = promise.then(
      () => {},
      () => {},
    )
    this.#taskPromises.add(tracked)
    void tracked.then(() => this.#taskPromises.delete(tracked))
  }

  /**
   * Adds a task row, if the run is still claimed by this scheduler in this attempt; returns its attempt
   * number, or undefined when the claim is gone.
   */
  async #insertTaskRow(
    run: RunRow,
    task: string,
    nextAttempt: Map<string, number>,
    status: 'running' | 'upstream_failed',
    error?: string,
  ): Promise<number | undefined> {
    const attempt = nextAttempt.get(task) ?? 1
    nextAttempt.set(task, attempt + 1)
    const { rowCount } = await this.#pool.query(
      `INSERT INTO cairn_meta.task_runs (dag_run_id, task, attempt, dag_run_attempt, status, started_at, finished_at, error)
       SELECT $1, $2, $3, $4, $5::text, CASE WHEN $5::text = 'running' THEN now() END,
              CASE WHEN $5::text = 'running' THEN NULL ELSE now() END, $6
       WHERE EXISTS (SELECT 1 FROM cairn_meta.dag_runs
                     WHERE dag_run_id = $1 AND claimed_by = $7 AND attempt = $4 AND status = 'running')`,
      [Number(run.dag_run_id), task, attempt, run.attempt, status, error ?? null, this.instanceId],
    )
    return rowCount === 1 ? attempt : undefined
  }

  /** The run was aborted (stop, or its claim was lost): queue it again, or fail it (runTask). */
  async #interrupted(run: RunRow, reason: unknown, requeue: boolean, log: Logger): Promise<void> {
    const message = errorMessage(reason)
    const { rowCount } = requeue
      ? await this.#pool.query(
          `UPDATE cairn_meta.dag_runs SET ${REQUEUE_SET}
           WHERE dag_run_id = $1 AND claimed_by = $2 AND attempt = $3 AND status = 'running'`,
          [Number(run.dag_run_id), this.instanceId, run.attempt],
        )
      : await this.#pool.query(
          `UPDATE cairn_meta.dag_runs SET status = 'failed', finished_at = now(), error = $4
           WHERE dag_run_id = $1 AND claimed_by = $2 AND attempt = $3 AND status = 'running'`,
          [Number(run.dag_run_id), this.instanceId, run.attempt, storableText(`interrupted: ${message}`)],
        )
    if (rowCount === 1)
      log.warn({ reason: message }, requeue ? 'DAG run interrupted; queued again' : 'DAG run interrupted')
    else log.warn({ reason: message }, 'DAG run interrupted after its claim was lost')
  }

  async #finish(
    run: RunRow,
    dag: DagDefinition,
    failures: Map<string, { error: string; tries: number }>,
    upstreamFailed: string[],
    elapsedMs: number,
    log: Logger,
  ): Promise<void> {
    const id = Number(run.dag_run_id)
    const failed = failures.size > 0
    const error = failed
      ? [...failures].map(([task, f]) => `task "${task}" failed after ${tries(f.tries)}: ${f.error}`).join('; ')
      : null
    const downstreamDags = [...this.#dags.values()].filter((d) => d.triggeredBy?.includes(dag.name))
    const client = await this.#pool.connect()
    let triggered: { dag: string; id: number }[] = []
    try {
      await client.query('BEGIN')
      const { rowCount } = await client.query(
        `UPDATE cairn_meta.dag_runs SET status = $4, finished_at = clock_timestamp(), error = $5
         WHERE dag_run_id = $1 AND claimed_by = $2 AND attempt = $3 AND status = 'running'`,
        [id, this.instanceId, run.attempt, failed ? 'failed' : 'succeeded', error && storableText(error)],
      )
      if (rowCount !== 1) {
        await client.query('ROLLBACK')
        log.warn('DAG run finished after its claim was lost; its outcome is left to the scheduler that took it over')
        return
      }
      if (!failed && downstreamDags.length > 0) {
        const changed = await client.query<{ changed: boolean }>(
          `SELECT EXISTS (
             SELECT 1 FROM cairn_meta.task_runs
             WHERE dag_run_id = $1 AND status = 'succeeded' AND dag_run_attempt >= $2
               AND CASE WHEN jsonb_typeof(summary -> 'changed') = 'number'
                        THEN (summary ->> 'changed')::numeric > 0 ELSE false END) AS changed`,
          [id, run.keep_from_attempt],
        )
        if (changed.rows[0]?.changed) {
          for (const d of downstreamDags) {
            const ins = await client.query<{ dag_run_id: string }>(
              `INSERT INTO cairn_meta.dag_runs (dag, run_key, interval_from, interval_to, trigger)
               VALUES ($1, $2, $3, $4, 'data') ON CONFLICT (dag, run_key) DO NOTHING RETURNING dag_run_id`,
              [d.name, `data:${dag.name}:${id}:${run.attempt}`, run.interval_from, run.interval_to],
            )
            if (ins.rows[0]) triggered.push({ dag: d.name, id: Number(ins.rows[0].dag_run_id) })
          }
        }
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      triggered = []
      throw err
    } finally {
      client.release()
    }
    if (!failed) {
      log.info({ ms: elapsedMs, triggered }, 'DAG run succeeded')
      return
    }
    const [firstTask, first] = [...failures][0] as [string, { error: string; tries: number }]
    const more = failures.size > 1 ? ` (and ${failures.size - 1} other task${failures.size > 2 ? 's' : ''})` : ''
    const notRun = upstreamFailed.length > 0 ? ` Not run because of it: ${upstreamFailed.join(', ')}.` : ''
    const reason = `DAG "${dag.name}" run ${id} (${run.trigger}, interval ${run.interval_from.toISOString()} – ${run.interval_to.toISOString()}) failed: task "${firstTask}"${more} failed after ${tries(first.tries)}: ${first.error}.${notRun}`
    log.error({ ms: elapsedMs, failures: Object.fromEntries(failures), upstreamFailed }, reason)
    this.#bus?.publishFinding({
      kind: 'pipeline.run_failed',
      source: FINDING_SOURCE,
      severity: 'critical',
      reason,
      evidence: {
        dag: dag.name,
        dagRunId: id,
        runKey: run.run_key,
        trigger: run.trigger,
        attempt: run.attempt,
        interval: { from: run.interval_from.toISOString(), to: run.interval_to.toISOString() },
        failedTasks: [...failures].map(([task, f]) => ({ task, tries: f.tries, error: f.error })),
        upstreamFailed,
        elapsedMs,
        claimedBy: this.instanceId,
      },
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  #dag(name: string): DagDefinition {
    const dag = this.#dags.get(name)
    if (!dag) throw errors.SCHEDULER_UNKNOWN_DAG(`"${name}" (known: ${[...this.#dags.keys()].join(', ') || 'none'})`)
    return dag
  }

  /** The interval of a manual run started now (see `TaskContext.interval`). */
  async #defaultInterval(dag: DagDefinition): Promise<Interval> {
    const now = new Date()
    const cron = this.#crons.get(dag.name)
    if (cron) {
      const latest = latestCompletePeriod(cron, now)
      return { from: new Date(now.getTime() - (latest.to.getTime() - latest.from.getTime())), to: now }
    }
    const { rows } = await this.#pool.query<{ to: Date | null }>(
      `SELECT max(interval_to) AS to FROM cairn_meta.dag_runs WHERE dag = $1 AND status = 'succeeded'`,
      [dag.name],
    )
    const from = rows[0]?.to ?? new Date(0)
    return { from: from.getTime() > now.getTime() ? now : from, to: now }
  }

  async #runInfoOrThrow(dagRunId: number): Promise<DagRunInfo> {
    const [info] = await this.#runInfos(`SELECT ${RUN_COLUMNS} FROM cairn_meta.dag_runs WHERE dag_run_id = $1`, [
      dagRunId,
    ])
    if (!info) throw errors.SCHEDULER_UNKNOWN_RUN(String(dagRunId))
    return info
  }

  async #runInfos(sql: string, params: unknown[]): Promise<DagRunInfo[]> {
    const { rows } = await this.#pool.query<RunRow & { task_states: TaskState[] }>(
      `SELECT r.*, COALESCE((
         SELECT json_agg(json_build_object('task', t.task, 'status', t.status, 'tries', t.tries, 'error', t.error))
         FROM (SELECT DISTINCT ON (task) task, status, error,
                 count(*) FILTER (WHERE started_at IS NOT NULL) OVER (PARTITION BY task) AS tries
               FROM cairn_meta.task_runs WHERE dag_run_id = r.dag_run_id
               ORDER BY task, attempt DESC) t), '[]'::json) AS task_states
       FROM (${sql}) r ORDER BY r.dag_run_id DESC`,
      params,
    )
    return rows.map((r) => {
      const order = (this.#order.get(r.dag) ?? []).map((t) => t.name)
      const rank = (task: string) => {
        const i = order.indexOf(task)
        return i === -1 ? order.length : i
      }
      return {
        dagRunId: Number(r.dag_run_id),
        dag: r.dag,
        runKey: r.run_key,
        trigger: r.trigger,
        status: r.status,
        interval: { from: r.interval_from, to: r.interval_to },
        taskScope: r.tasks,
        attempt: r.attempt,
        claimedBy: r.claimed_by,
        queuedAt: r.queued_at,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        deadlineAt: r.deadline_at,
        deadlineAlerted: r.deadline_alerted,
        error: r.error,
        tasks: [...r.task_states]
          .map((t) => ({ ...t, tries: Number(t.tries) }))
          .sort((a, b) => rank(a.task) - rank(b.task) || a.task.localeCompare(b.task)),
      }
    })
  }
}

function tries(n: number): string {
  return n === 1 ? '1 try' : `${n} tries`
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw errors.SCHEDULER_INVALID_REQUEST(`${name} must be a positive number (got ${value})`)
  }
  return value
}

function checkInterval(interval: Interval): Interval {
  const from = interval?.from
  const to = interval?.to
  if (!(from instanceof Date) || !(to instanceof Date) || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw errors.SCHEDULER_INVALID_REQUEST('an interval needs valid from and to dates')
  }
  if (from.getTime() > to.getTime()) {
    throw errors.SCHEDULER_INVALID_REQUEST(`interval from ${from.toISOString()} is after to ${to.toISOString()}`)
  }
  return { from, to }
}
