import { hostname } from 'node:os'
import { counter, errors } from '@cairn/core'
import { type Agent, type AgentFinding, defineAgent } from '@cairn/plugins'
import type pg from 'pg'
import { type Collector, type CollectorName, collectorNames } from './collector.js'
import { CollectorRun } from './collector-run.js'
import type { CollectorStatus } from './collector-status.js'
import { HostCollector } from './host-collector.js'
import { pruneCollectorSamples } from './prune-collector-samples.js'
import { runEvery } from './run-every.js'
import { StatementCollector } from './statement-collector.js'
import { TableStatsCollector } from './table-stats-collector.js'

export interface CollectorsOptions {
  /** Writable, on the warehouse database: the samples go to `cairn_meta` (the context's db is read-only). */
  pool: pg.Pool
  /** How often each collector samples. Default 60 s. */
  intervalMs?: number
  /** Per collector, overriding `intervalMs`. */
  intervals?: Partial<Record<CollectorName, number>>
  /** Samples older than this many days are deleted. Default 7. */
  retentionDays?: number
  /** How often retention runs (also once at start). Default 1 hour. */
  retentionIntervalMs?: number
  /** Rows per retention DELETE. Default 5,000. */
  retentionBatchSize?: number
  /** Which collectors run. Default all: `['statements', 'tables', 'host']`. */
  collect?: readonly CollectorName[]
  /** Schemas whose tables and indexes are not sampled. Default `['cairn_meta']`: Cairn's own bookkeeping. */
  excludeSchemas?: readonly string[]
  /** Names this process in host samples and statuses. Default `os.hostname()`. */
  host?: string
  /** Where host resources are read. Defaults `/proc` and `/sys`. */
  procDir?: string
  sysDir?: string
}

const prunedTotal = counter({
  name: 'cairn_collector_rows_pruned_total',
  help: 'Collector samples and statement texts deleted by retention',
})

const described: Record<CollectorName, string> = {
  statements: 'pg_stat_statements deltas',
  tables: 'table and index statistics',
  host: 'host resources',
}

/**
 * The collectors, as one agent: pg_stat_statements deltas (the work that
 * bypasses the proxy), table and index statistics and sizes, and host
 * resources, each sampled on its own interval into `cairn_meta`, with
 * retention. At start it publishes a `collector.status` finding saying what
 * is collected and what is not, and why; again when that changes.
 */
export const useCollectors = ({
  pool,
  intervalMs = 60_000,
  intervals = {},
  retentionDays = 7,
  retentionIntervalMs = 3_600_000,
  retentionBatchSize = 5_000,
  collect = collectorNames,
  excludeSchemas = ['cairn_meta'],
  host = hostname(),
  procDir = '/proc',
  sysDir = '/sys',
}: CollectorsOptions): Agent => {
  for (const name of collect) {
    if (!collectorNames.includes(name))
      throw errors.CONFIG_INVALID(`collectors: unknown collector "${name}" (one of ${collectorNames.join(', ')})`)
  }
  const intervalOf = (name: CollectorName) => intervals[name] ?? intervalMs
  for (const [what, value] of [
    ['intervalMs', intervalMs],
    ...collectorNames.map((n) => [`intervals.${n}`, intervalOf(n)] as const),
    ['retentionDays', retentionDays],
    ['retentionIntervalMs', retentionIntervalMs],
    ['retentionBatchSize', retentionBatchSize],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0))
      throw errors.CONFIG_INVALID(`collectors: ${what} must be a positive number, got ${value}`)
  }
  const wanted = collectorNames.filter((n) => collect.includes(n))

  return defineAgent({
    meta: {
      name: 'collectors',
      version: '1.0.0',
      description: 'Samples pg_stat_statements deltas, table and index statistics and host resources into cairn_meta',
    },
    async start(ctx) {
      const stop = new AbortController()
      const onAbort = () => stop.abort()
      ctx.signal.addEventListener('abort', onAbort, { once: true })

      const statements = new StatementCollector({ pool })
      const available: Record<CollectorName, Collector> = {
        statements,
        tables: new TableStatsCollector({ pool, excludeSchemas }),
        host: new HostCollector({ pool, host, procDir, sysDir }),
      }
      const publishStatus = () =>
        ctx.publish(
          statusFinding(
            runs.map((r) => r.status),
            wanted,
            retentionDays,
            excludeSchemas,
          ),
        )
      const runs = wanted.map(
        (name) =>
          new CollectorRun(available[name], {
            pool,
            log: ctx.log,
            host,
            intervalMs: intervalOf(name),
            onAvailabilityChange: publishStatus,
          }),
      )

      const prune = async () => {
        try {
          const pruned = await pruneCollectorSamples(pool, {
            retentionDays,
            batchSize: retentionBatchSize,
            signal: stop.signal,
          })
          // Texts of statements not seen for a while are gone: write them again when they come back.
          if (pruned.statement_texts > 0) statements.forgetTexts()
          const total = Object.values(pruned).reduce((a, b) => a + b, 0)
          prunedTotal.inc(total)
          if (total > 0)
            ctx.log.info({ pruned }, `collectors: deleted ${total} row(s) older than ${retentionDays} days`)
        } catch (err) {
          ctx.log.warn({ err }, 'collectors: retention failed; it runs again next interval')
        }
      }

      // The first samples: what can be collected, and the readings the first deltas start from.
      await Promise.all(runs.map((r) => r.tick()))
      publishStatus()

      const loops = [
        ...runs.map((r) => runEvery(r.status.intervalMs, stop.signal, () => r.tick())),
        runEvery(retentionIntervalMs, stop.signal, prune, { immediately: true }),
      ]
      return async () => {
        ctx.signal.removeEventListener('abort', onAbort)
        stop.abort()
        await Promise.all(loops)
      }
    },
  })
}

/** The `collector.status` finding: what is collected, every how often, and what is not and why. */
function statusFinding(
  statuses: readonly CollectorStatus[],
  wanted: readonly CollectorName[],
  retentionDays: number,
  excludeSchemas: readonly string[],
): AgentFinding {
  const collected = statuses.filter((s) => s.collecting).map((s) => `${s.reason} every ${seconds(s.intervalMs)}`)
  const missing = [
    ...statuses
      .filter((s) => !s.collecting)
      .map((s) => (s.lastError ? `${s.reason} (the first sample failed: ${s.lastError})` : s.reason)),
    ...collectorNames.filter((n) => !wanted.includes(n)).map((n) => `${described[n]} were not asked for`),
  ]
  const reason = [
    collected.length ? `Collecting, kept ${retentionDays} days: ${collected.join('; ')}.` : 'Nothing is collected.',
    missing.length ? `Not collected: ${missing.join('; ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ')
  return {
    kind: 'collector.status',
    severity: statuses.some((s) => !s.collecting) ? 'warning' : 'info',
    reason,
    evidence: {
      collectors: statuses.map(({ collector, collecting, reason, intervalMs, lastError }) => ({
        collector,
        collecting,
        reason,
        intervalMs,
        lastError,
      })),
      notRequested: collectorNames.filter((n) => !wanted.includes(n)),
      retentionDays,
      excludeSchemas: [...excludeSchemas],
    },
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}
