import { errors } from '@cairn/core'
import { type Agent, type AgentContext, defineAgent } from '@cairn/plugins'
import type pg from 'pg'
import type { ProposedAction } from '../actuator/proposed-action.js'
import { runEvery } from '../collectors/run-every.js'
import { workerModule } from '../host/worker-module.js'
import type { AnalyzeIndexesInput, IndexAnalysis } from './analyze-indexes.js'
import { adviseIndexes, type IndexAdvice, type IndexAdvisorOptions } from './index-advisor.js'
import type { IndexUsage } from './index-usage.js'

export interface UseIndexAdvisorOptions extends IndexAdvisorOptions {
  /** The warehouse: the analysis opens its own read-only connection to it, in a worker thread. */
  databaseUrl: string
  /** Writable, for `cairn_meta.index_usage` (scan-count baselines that outlive a restart); without it they live in memory. */
  pool?: pg.Pool
  /** How often the analysis runs (the first run is at start). Default 1 hour. */
  intervalMs?: number
  /** Hands each new recommendation to the actuator (`actuator.propose`). */
  propose?: (action: ProposedAction) => Promise<unknown>
}

const analysisModule = workerModule(import.meta.url, './analyze-indexes.js')

/**
 * The index advisor: on an interval, analyses the workload of the last
 * `windowMs` in a worker (HypoPG what-if costing, greedy selection under the
 * storage budget, drops of unused and redundant indexes), publishes one
 * `index.recommendation` finding per new recommendation and an
 * `index.summary` saying what was considered (and why nothing was
 * recommended, when nothing was) whenever the outcome changes, and hands each
 * new recommendation to `propose`.
 */
export function useIndexAdvisor({
  databaseUrl,
  pool,
  intervalMs = 3_600_000,
  propose,
  ...options
}: UseIndexAdvisorOptions): Agent {
  if (!databaseUrl) throw errors.CONFIG_INVALID('index advisor: databaseUrl is required')
  if (!(Number.isFinite(intervalMs) && intervalMs > 0))
    throw errors.CONFIG_INVALID(`index advisor: intervalMs must be a positive number, got ${intervalMs}`)
  // What the advisor remembers across runs (and restarts of the agent object).
  let baselines: IndexUsage[] = []
  let published = new Set<string>()
  const proposed = new Set<string>()
  let lastOutcome = ''

  const cycle = async (ctx: AgentContext): Promise<void> => {
    const advice = await adviseIndexes({
      ...options,
      databaseUrl,
      usageBaselines: baselines,
      run: (input: AnalyzeIndexesInput) =>
        ctx.workers.run<IndexAnalysis>({ module: analysisModule, name: 'analyzeIndexes', input }),
    })
    if (ctx.signal.aborted) return
    baselines = advice.usage
    if (pool) await remember(pool, advice.usage, ctx)
    publish(ctx, advice)
    if (propose) {
      for (const r of advice.recommendations) {
        if (proposed.has(r.key)) continue
        try {
          await propose(r)
          proposed.add(r.key)
        } catch (err) {
          ctx.log.warn({ err, key: r.key }, 'the actuator refused a proposal; it is offered again next run')
        }
      }
      // A key that stops being recommended may be proposed again when it comes back.
      const current = new Set(advice.recommendations.map((r) => r.key))
      for (const key of proposed) if (!current.has(key)) proposed.delete(key)
    }
  }

  const publish = (ctx: AgentContext, advice: IndexAdvice): void => {
    const keys = new Set(advice.recommendations.map((r) => r.key))
    for (const r of advice.recommendations) {
      if (published.has(r.key)) continue
      ctx.publish({
        kind: 'index.recommendation',
        severity: 'info',
        reason: r.reason,
        evidence: {
          ...r.evidence,
          key: r.key,
          action: r.kind,
          relation: r.relation,
          apply: r.apply,
          rollback: r.rollback,
          sizeBytes: r.sizeBytes ?? null,
          affectedFingerprints: r.affectedFingerprints,
        },
        ...(r.predictedBenefitMs !== undefined ? { predictedBenefitMs: r.predictedBenefitMs } : {}),
      })
    }
    published = keys
    // The outcome, not its numbers: the same advice with slightly different timings is not news.
    const outcome = keys.size > 0 ? [...keys].sort().join('\n') : advice.summary.replace(/[\d.,]+/g, '#')
    if (outcome === lastOutcome) return
    lastOutcome = outcome
    ctx.publish({
      kind: 'index.summary',
      severity: 'info',
      reason: advice.summary,
      evidence: {
        considered: advice.considered,
        recommended: advice.recommendations.map((r) => ({ key: r.key, reason: r.reason })),
        rejected: advice.rejected.slice(0, 100),
        rejectedCount: advice.rejected.length,
        steps: advice.steps,
        ...(advice.unavailable ? { unavailable: advice.unavailable } : {}),
      },
    })
  }

  return defineAgent({
    meta: {
      name: 'index-advisor',
      version: '1.0.0',
      description: 'Recommends indexes to create and drop from the workload, costed with HypoPG',
    },
    start(ctx) {
      let lastError = ''
      void runEvery(
        intervalMs,
        ctx.signal,
        async () => {
          try {
            await cycle(ctx)
            lastError = ''
          } catch (err) {
            if (ctx.signal.aborted) return
            const message = (err as Error).message
            ctx.log.warn({ err }, 'index analysis failed; trying again at the next interval')
            if (message !== lastError) {
              lastError = message
              lastOutcome = ''
              ctx.publish({
                kind: 'index.summary',
                severity: 'warning',
                reason: `The index advisor could not analyse the workload (${message}); it tries again in ${Math.round(intervalMs / 60_000)} min.`,
                evidence: { error: message },
              })
            }
          }
        },
        { immediately: true },
      )
    },
  })
}

/** Keeps each index's scan count and since when it held, so "unused for 7 days" survives restarts. */
async function remember(pool: pg.Pool, usage: readonly IndexUsage[], ctx: AgentContext): Promise<void> {
  try {
    await pool.query(
      `INSERT INTO cairn_meta.index_usage AS u (indexrelid, schema_name, table_name, index_name, idx_scan, unchanged_since, checked_at)
       SELECT oid, s, t, i, n, since, now()
         FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::timestamptz[]) AS x(oid, s, t, i, n, since)
       ON CONFLICT (indexrelid) DO UPDATE
         SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, index_name = EXCLUDED.index_name,
             idx_scan = EXCLUDED.idx_scan, unchanged_since = EXCLUDED.unchanged_since, checked_at = EXCLUDED.checked_at`,
      [
        usage.map((u) => u.oid),
        usage.map((u) => u.schema),
        usage.map((u) => u.table),
        usage.map((u) => u.index),
        usage.map((u) => u.scans),
        usage.map((u) => new Date(u.unchangedSince)),
      ],
    )
    // Indexes that are gone leave no record behind.
    await pool.query('DELETE FROM cairn_meta.index_usage WHERE indexrelid NOT IN (SELECT indexrelid FROM pg_index)')
  } catch (err) {
    ctx.log.warn({ err }, 'could not record index usage; unused indexes are judged from memory until it works again')
  }
}
