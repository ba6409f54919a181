import type pg from 'pg'
import type { DagDefinition } from '../scheduler/dag.js'
import { defineDag } from '../scheduler/dag-validation.js'
import { silverTables } from '../silver/tables/index.js'
import type { PipelineHooks, PipelineSettings } from './pipeline-settings.js'

const OWN_SCHEMAS = ['bronze', 'silver', 'gold', 'cairn_meta']
/** VACUUM a table when it has more dead tuples than this, and more than 10% of its live ones. */
const DEAD_TUPLES = 10_000

async function tablesWhere(pool: pg.Pool, condition: string): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables
     WHERE schemaname = ANY($1) AND ${condition} ORDER BY 1`,
    [OWN_SCHEMAS],
  )
  return rows.map((r) => r.name)
}

/**
 * maintenance: statistics, vacuum, materialized views, bronze retention and telemetry
 * partitions. Touches only Cairn's own schemas, and drops only what Cairn created
 * (telemetry partitions past retention, bronze rows past retention that silver has read).
 */
export function maintenanceDag(settings: PipelineSettings, hooks: PipelineHooks = {}): DagDefinition {
  return defineDag({
    name: 'maintenance',
    description: 'ANALYZE, VACUUM, REFRESH of materialized views, bronze retention, telemetry partitions',
    schedule: settings.maintenanceCron,
    deadlineMs: 2 * 60 * 60_000,
    tasks: [
      {
        name: 'analyze',
        async run(ctx) {
          const tables = await tablesWhere(ctx.pool, 'n_mod_since_analyze > 0')
          for (const t of tables) await ctx.pool.query(`ANALYZE ${t}`)
          ctx.appendLog(`analyzed ${tables.length} table(s): ${tables.join(', ')}`)
          return { summary: { analyzed: tables.length } }
        },
      },
      {
        name: 'vacuum',
        dependsOn: ['analyze'],
        async run(ctx) {
          const tables = await tablesWhere(ctx.pool, `n_dead_tup > ${DEAD_TUPLES} AND n_dead_tup > n_live_tup / 10`)
          for (const t of tables) await ctx.pool.query(`VACUUM (ANALYZE) ${t}`)
          ctx.appendLog(`vacuumed ${tables.length} table(s): ${tables.join(', ')}`)
          return { summary: { vacuumed: tables.length } }
        },
      },
      {
        name: 'refresh_views',
        async run(ctx) {
          const { rows } = await ctx.pool.query<{ quoted: string; name: string }>(
            `SELECT format('%I.%I', schemaname, matviewname) AS quoted, schemaname || '.' || matviewname AS name
             FROM pg_matviews WHERE schemaname = ANY($1) AND ispopulated`,
            [OWN_SCHEMAS],
          )
          for (const v of rows) await ctx.pool.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${v.quoted}`)
          if (rows.length > 0) await hooks.dataChanged?.(rows.map((v) => v.name))
          return { summary: { refreshed: rows.length } }
        },
      },
      {
        name: 'bronze_retention',
        async run(ctx) {
          if (settings.bronzeRetentionDays <= 0) {
            ctx.appendLog('bronze retention is off (CAIRN_BRONZE_RETENTION_DAYS=0): nothing deleted')
            return { summary: { deleted: 0 } }
          }
          let deleted = 0
          for (const table of silverTables) {
            const client = await ctx.pool.connect()
            try {
              await client.query('BEGIN')
              await client.query(`SET LOCAL cairn.bronze_retention = 'on'`)
              // Only rows silver has already read: retention never loses data that was not processed.
              const res = await client.query(
                `DELETE FROM bronze.${table.bronze} WHERE received_at < now() - make_interval(days => $1)
                 AND bronze_id <= coalesce((SELECT last_bronze_id FROM cairn_meta.silver_watermarks WHERE table_name = $2), 0)`,
                [settings.bronzeRetentionDays, table.name],
              )
              await client.query('COMMIT')
              deleted += res.rowCount ?? 0
            } catch (err) {
              await client.query('ROLLBACK').catch(() => {})
              throw err
            } finally {
              client.release()
            }
          }
          ctx.appendLog(`deleted ${deleted} bronze row(s) older than ${settings.bronzeRetentionDays} days`)
          return { summary: { deleted } }
        },
      },
      {
        name: 'telemetry_partitions',
        async run(ctx) {
          await ctx.pool.query('SELECT cairn_meta.maintain_query_event_partitions(2, $1)', [
            settings.telemetryRetentionDays,
          ])
          return { summary: { retentionDays: settings.telemetryRetentionDays } }
        },
      },
    ],
  })
}
