import type { Logger } from '@cairn/core'
import type pg from 'pg'
import { extendDimDate } from '../silver/dim-date.js'
import type { RuleAction } from '../silver/rules.js'
import { runSilverStep, type SilverStepResult } from '../silver/silver-step.js'
import type { SilverTable } from '../silver/silver-table.js'
import { silverTables } from '../silver/tables/index.js'
import { closeRun, openRun } from './pipeline-runs.js'

export interface SilverRunOptions {
  readonly log: Logger
  /** Default: every table of the data contract. */
  readonly tables?: readonly SilverTable[]
  readonly ruleActions?: Readonly<Record<string, RuleAction>>
  readonly beforeCommit?: (table: string) => void | Promise<void>
  readonly onStep?: (result: SilverStepResult) => void
}

export interface SilverRunResult {
  readonly runId: number
  readonly steps: readonly SilverStepResult[]
  readonly datesAdded: number
}

/**
 * Runs the silver step of every table in dependency order, each in its own
 * transaction, then extends `silver.dim_date`. The run is recorded in
 * `cairn_meta.pipeline_runs`; a failing step fails the run (steps already
 * committed stay committed: each is consistent on its own and the next run
 * continues from the watermarks).
 */
export async function runSilver(pool: pg.Pool, options: SilverRunOptions): Promise<SilverRunResult> {
  const tables = options.tables ?? silverTables
  const byName = new Map(silverTables.map((t) => [t.name, t]))
  for (const t of tables) byName.set(t.name, t)
  const runId = await openRun(pool, 'silver')
  const steps: SilverStepResult[] = []
  const client = await pool.connect()
  try {
    for (const table of tables) {
      const step = await runSilverStep(client, table, byName, {
        runId,
        ...(options.ruleActions ? { ruleActions: options.ruleActions } : {}),
        ...(options.beforeCommit ? { beforeCommit: options.beforeCommit } : {}),
      })
      steps.push(step)
      options.log.debug({ component: 'silver', ...step, rules: undefined }, `silver.${table.name} done`)
      options.onStep?.(step)
    }
    const datesAdded = await extendDimDate(client)
    await closeRun(pool, runId, { status: 'succeeded', summary: { steps: steps.map(({ rules: _, ...s }) => s) } })
    return { runId, steps, datesAdded }
  } catch (err) {
    await closeRun(pool, runId, { status: 'failed', error: (err as Error).message }).catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
