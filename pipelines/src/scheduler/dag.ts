import type { EventBus, Logger } from '@cairn/core'
import type pg from 'pg'

/** What a task gets when it runs. */
export interface TaskContext {
  readonly pool: pg.Pool
  readonly log: Logger
  /** Aborted on timeout or scheduler shutdown; long tasks must check it. */
  readonly signal: AbortSignal
  readonly dag: string
  readonly task: string
  /** `cairn_meta.dag_runs.dag_run_id`. */
  readonly dagRunId: number
  /** 1 for the first try. */
  readonly attempt: number
  /**
   * The data interval the run covers: [from, to). For a scheduled run, the cron period that just
   * ended; for a backfill, one period of the range; for a manual run, the period ending now (as long
   * as the DAG's latest cron period; for a DAG without a schedule, from the end of its latest
   * successful run's interval, or the Unix epoch for the first run); for a data-triggered run, the
   * interval of the upstream run that changed data.
   */
  readonly interval: { readonly from: Date; readonly to: Date }
  /** Writes a line to this try's log (kept in `cairn_meta.task_runs.log`). */
  appendLog(line: string): void
}

/**
 * What a task may report; it is stored with the try (`cairn_meta.task_runs.summary`, JSON). A numeric
 * `summary.changed` greater than 0 tells the scheduler the task changed data, which starts the DAGs
 * whose `triggeredBy` names this one once the run has succeeded.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a task may return nothing, as `async run() {}` does
export type TaskOutcome = void | { readonly summary?: Record<string, unknown> }

export interface TaskDefinition {
  /** `[a-z][a-z0-9_]*`, unique within its DAG. */
  readonly name: string
  readonly dependsOn?: readonly string[]
  /** Retries after the first try (default 2). */
  readonly retries?: number
  /** First retry delay; doubles each retry up to `maxRetryDelayMs` (defaults 5 s and 5 min). */
  readonly retryDelayMs?: number
  readonly maxRetryDelayMs?: number
  /**
   * The try's signal is aborted and the try fails after this long (default 1 h), whether or not the
   * task has noticed the signal yet.
   */
  readonly timeoutMs?: number
  run(ctx: TaskContext): Promise<TaskOutcome>
}

export interface DagDefinition {
  /** `[a-z][a-z0-9_]*`, unique. */
  readonly name: string
  readonly description: string
  /** A cron expression (croner syntax, UTC), or none for a DAG that only runs when triggered. */
  readonly schedule?: string
  /**
   * Data-aware triggering: run when one of these DAGs finished a successful run that changed data
   * (its tasks reported `summary.changed > 0`), like Airflow assets.
   */
  readonly triggeredBy?: readonly string[]
  /** Runs of this DAG that may be active at once, across all schedulers on the database (default 1). */
  readonly maxActiveRuns?: number
  /** Tasks of one run that may run at once, when their dependencies allow it (default 2). */
  readonly maxActiveTasks?: number
  /** A run not finished this long after it started raises a deadline alert (it keeps running). */
  readonly deadlineMs?: number
  readonly tasks: readonly TaskDefinition[]
}

/** Context the DAG factories need to build their tasks. */
export interface DagEnvironment {
  readonly log: Logger
  readonly bus?: EventBus
}
