import type { StatementKind } from '@cairn/core'
import type { ReadOnlyDb } from '@cairn/plugins'
import type { FingerprintHistory } from './fingerprint-tally.js'

export interface WorkloadHistoryOptions {
  /** Epoch ms: [from, until). */
  readonly from: number
  readonly until: number
  readonly bucketMs: number
  readonly kinds: readonly StatementKind[]
  /** The most executed fingerprints read. */
  readonly limit: number
}

type Role = 'predicate' | 'join' | 'groupBy' | 'orderBy'

/**
 * Each fingerprint's statistics and arrivals per bucket from `cairn_meta.query_events`
 * (what the proxy persisted before the agent started), so a restarted agent
 * clusters and forecasts from the whole window, not from what it saw since.
 */
export async function loadWorkloadHistory(
  db: ReadOnlyDb,
  options: WorkloadHistoryOptions,
): Promise<FingerprintHistory[]> {
  const window = [options.from, options.until]
  const { rows: stats } = await db.query<{
    fingerprint: string
    executions: string
    mean_log_rows: number
    median_log_rows: number
    mean_log_duration: number
    gap_mean: number
    gap_std: number
    first_at: number
    last_at: number
  }>(
    `WITH e AS (
       SELECT fingerprint, at, rows, duration_ms, sqlstate,
              extract(epoch FROM at - lag(at) OVER (PARTITION BY fingerprint ORDER BY at)) * 1000 AS gap
       FROM cairn_meta.query_events
       WHERE at >= to_timestamp($1 / 1000.0) AND at < to_timestamp($2 / 1000.0) AND kind = ANY($3::text[])
     )
     SELECT fingerprint, count(*) AS executions,
            coalesce(avg(ln(1 + greatest(rows, 0)::float8)) FILTER (WHERE sqlstate IS NULL), 0) AS mean_log_rows,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY ln(1 + greatest(rows, 0)::float8))
                       FILTER (WHERE sqlstate IS NULL), 0) AS median_log_rows,
            coalesce(avg(ln(1 + greatest(duration_ms, 0))) FILTER (WHERE sqlstate IS NULL), 0) AS mean_log_duration,
            coalesce(avg(gap), 0)::float8 AS gap_mean, coalesce(stddev_pop(gap), 0)::float8 AS gap_std,
            (extract(epoch FROM min(at)) * 1000)::float8 AS first_at, (extract(epoch FROM max(at)) * 1000)::float8 AS last_at
     FROM e
     GROUP BY fingerprint
     ORDER BY count(*) DESC, fingerprint
     LIMIT $4`,
    [...window, options.kinds, options.limit],
  )
  if (stats.length === 0) return []
  const fingerprints = stats.map((s) => s.fingerprint)
  const { rows: texts } = await db.query<{
    fingerprint: string
    normalized_text: string
    statement_text: string | null
    kind: StatementKind
    relations: string[]
    columns: { role: Role }[] | null
  }>(
    `SELECT DISTINCT ON (fingerprint) fingerprint, normalized_text, statement_text, kind,
            relations_read || relations_written AS relations, columns
     FROM cairn_meta.query_events
     WHERE fingerprint = ANY($3::text[]) AND at >= to_timestamp($1 / 1000.0) AND at < to_timestamp($2 / 1000.0)
     ORDER BY fingerprint, at DESC`,
    [...window, fingerprints],
  )
  const { rows: buckets } = await db.query<{ fingerprint: string; bucket: string; n: number }>(
    `SELECT fingerprint, floor(extract(epoch FROM at) * 1000 / $4)::bigint AS bucket, count(*)::int AS n
     FROM cairn_meta.query_events
     WHERE fingerprint = ANY($3::text[]) AND at >= to_timestamp($1 / 1000.0) AND at < to_timestamp($2 / 1000.0)
     GROUP BY 1, 2`,
    [...window, fingerprints, options.bucketMs],
  )
  const textOf = new Map(texts.map((t) => [t.fingerprint, t]))
  const bucketsOf = new Map<string, [number, number][]>()
  for (const b of buckets) {
    const list = bucketsOf.get(b.fingerprint) ?? []
    list.push([Number(b.bucket), b.n])
    bucketsOf.set(b.fingerprint, list)
  }
  return stats.flatMap((s): FingerprintHistory[] => {
    const t = textOf.get(s.fingerprint)
    if (!t) return []
    return [
      {
        fingerprint: s.fingerprint,
        normalizedText: t.normalized_text,
        ...(t.statement_text ? { text: t.statement_text } : {}),
        kind: t.kind,
        relations: [...new Set(t.relations)],
        columns: (t.columns ?? []).map((c) => ({ role: c.role })),
        executions: Number(s.executions),
        meanLogRows: s.mean_log_rows,
        medianLogRows: s.median_log_rows,
        meanLogDurationMs: s.mean_log_duration,
        gapMeanMs: s.gap_mean,
        gapStdMs: s.gap_std,
        firstAt: s.first_at,
        lastAt: s.last_at,
        buckets: bucketsOf.get(s.fingerprint) ?? [],
      },
    ]
  })
}
