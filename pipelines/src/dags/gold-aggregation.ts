import { errors } from '@cairn/core'
import type pg from 'pg'
import { runGold } from '../gold/gold-step.js'
import type { DagDefinition } from '../scheduler/dag.js'
import { defineDag } from '../scheduler/dag-validation.js'
import type { PipelineHooks } from './pipeline-settings.js'

/**
 * Silver tables whose latest step failed (a `fail` rule, or an error): gold waits until a later
 * step of the same table succeeds, so it never aggregates data a rule refused.
 */
export async function failedSilverSteps(pool: pg.Pool): Promise<{ pipeline: string; error: string | null }[]> {
  const { rows } = await pool.query<{ pipeline: string; error: string | null }>(`
    SELECT pipeline, error FROM (
      SELECT DISTINCT ON (pipeline) pipeline, status, error FROM cairn_meta.pipeline_runs
      WHERE pipeline LIKE 'silver.%' AND status <> 'running' ORDER BY pipeline, run_id DESC
    ) latest WHERE status = 'failed' ORDER BY pipeline`)
  return rows
}

/** gold_aggregation: the incremental marts, when silver changed; blocked while a silver step is failed. */
/** What a gold run writes; the materialized view is the one the WAL follower cannot see. */
export const goldRelations = [
  'gold.order_line_facts',
  'gold.session_facts',
  'gold.daily_sales',
  'gold.customer_360_base',
  'gold.customer_360',
  'gold.product_performance',
  'gold.daily_funnel',
]

export function goldAggregationDag(hooks: PipelineHooks = {}): DagDefinition {
  return defineDag({
    name: 'gold_aggregation',
    description: 'Recomputes the gold marts for what silver changed, and refreshes gold.customer_360',
    triggeredBy: ['silver_transformation'],
    deadlineMs: 30 * 60_000,
    tasks: [
      {
        name: 'marts',
        retries: 2,
        retryDelayMs: 5_000,
        timeoutMs: 60 * 60_000,
        async run(ctx) {
          const failed = await failedSilverSteps(ctx.pool)
          if (failed.length > 0) {
            throw errors.PIPELINE_BLOCKED(
              `gold waits for silver: ${failed.map((f) => `${f.pipeline} failed (${f.error ?? 'no reason recorded'})`).join('; ')}`,
            )
          }
          const result = await runGold(ctx.pool)
          if (result.changed > 0) await hooks.dataChanged?.(goldRelations)
          ctx.appendLog(
            `${result.dates} days, ${result.customers} customers, ${result.products} products, ${result.sessionDates} funnel days recomputed`,
          )
          return { summary: { ...result } }
        },
      },
    ],
  })
}
