import { closeRun, openRun } from '../run/pipeline-runs.js'
import type { DagDefinition } from '../scheduler/dag.js'
import { defineDag } from '../scheduler/dag-validation.js'
import { extendDimDate } from '../silver/dim-date.js'
import { runSilverStep } from '../silver/silver-step.js'
import { silverTables } from '../silver/tables/index.js'

/**
 * silver_transformation: one task per silver table, in the tables' dependency order, then
 * dim_date. Runs when bronze_ingestion loaded rows. A `fail` rule fails its task, and with it
 * the run, which keeps gold from running on it.
 */
export function silverTransformationDag(): DagDefinition {
  const byName = new Map(silverTables.map((t) => [t.name, t]))
  return defineDag({
    name: 'silver_transformation',
    description: 'Types, validates, deduplicates and historises bronze into silver, one transaction per table',
    triggeredBy: ['bronze_ingestion'],
    deadlineMs: 30 * 60_000,
    tasks: [
      ...silverTables.map((table) => ({
        name: table.name,
        dependsOn: table.dependsOn,
        retries: 2,
        retryDelayMs: 5_000,
        timeoutMs: 60 * 60_000,
        async run(ctx: Parameters<DagDefinition['tasks'][number]['run']>[0]) {
          const runId = await openRun(ctx.pool, `silver.${table.name}`)
          const client = await ctx.pool.connect()
          try {
            const step = await runSilverStep(client, table, byName, { runId })
            const { rules: _, ...summary } = step
            await closeRun(ctx.pool, runId, { status: 'succeeded', summary })
            ctx.appendLog(
              `read ${step.read}, written ${step.written}, quarantined ${step.quarantined}, dropped ${step.dropped}, duplicates ${step.duplicates}`,
            )
            return { summary: { ...summary, runId, changed: step.written + step.inferred } }
          } catch (err) {
            await closeRun(ctx.pool, runId, { status: 'failed', error: (err as Error).message }).catch(() => {})
            throw err
          } finally {
            client.release()
          }
        },
      })),
      {
        name: 'dim_date',
        dependsOn: ['orders', 'clickstream_events'],
        async run(ctx) {
          const client = await ctx.pool.connect()
          try {
            const added = await extendDimDate(client)
            return { summary: { added, changed: added } }
          } finally {
            client.release()
          }
        },
      },
    ],
  })
}
