import type pg from 'pg'
import type { TableFacts } from './relation-catalog.js'

/** A collectors' sample this recent stands for the live counter when the advisor has no record of its own. */
const RECENT_SAMPLE_MS = 600_000

/** One index's scan count as last seen, and since when it has not changed (epoch ms). */
export interface IndexUsage {
  readonly oid: number
  readonly schema: string
  readonly table: string
  readonly index: string
  readonly scans: number
  readonly unchangedSince: number
}

/**
 * Since when each index of `tables` has not been scanned, from every source
 * there is: the advisor's own record (`cairn_meta.index_usage`), baselines
 * kept in memory by a running advisor, and the collectors' per-interval
 * samples (`cairn_meta.index_stats_samples`). Evidence of a scan count that
 * held still is combined: the earliest moment since which the count is known
 * not to have moved wins. An index seen for the first time starts now.
 */
export async function readIndexUsage(
  client: pg.ClientBase,
  tables: readonly TableFacts[],
  { now, baselines = [] }: { now: number; baselines?: readonly IndexUsage[] },
): Promise<IndexUsage[]> {
  const indexes = tables.flatMap((t) => t.indexes.map((i) => ({ table: t, index: i })))
  if (indexes.length === 0) return []
  const oids = indexes.map((x) => x.index.oid)
  const { rows: recorded } = await client.query<{ oid: number; scans: number; since: Date }>(
    `SELECT indexrelid::int8::float8 AS oid, idx_scan::float8 AS scans, unchanged_since AS since
       FROM cairn_meta.index_usage WHERE indexrelid::int8 = ANY($1::int8[])`,
    [oids],
  )
  // From the collectors: the start of the sampled stretch, and the last sample that saw a scan (or no counter).
  const { rows: sampled } = await client.query<{ oid: number; first: Date; moved: Date | null; latest: Date }>(
    `SELECT indexrelid::int8::float8 AS oid,
            min(at - make_interval(secs => coalesce(interval_seconds, 0))) AS first,
            max(at) FILTER (WHERE idx_scan IS NULL OR idx_scan > 0) AS moved,
            max(at) AS latest
       FROM cairn_meta.index_stats_samples
      WHERE indexrelid::int8 = ANY($1::int8[])
      GROUP BY indexrelid`,
    [oids],
  )
  const fromRecord = new Map(recorded.map((r) => [Number(r.oid), r]))
  const fromMemory = new Map(baselines.map((b) => [b.oid, b]))
  const fromSamples = new Map(sampled.map((r) => [Number(r.oid), r]))

  return indexes.map(({ table, index }) => {
    let since = now
    for (const known of [fromRecord.get(index.oid), fromMemory.get(index.oid)]) {
      if (!known) continue
      const at = 'since' in known ? known.since.getTime() : known.unchangedSince
      if (Number(known.scans) === index.scans) since = Math.min(since, at)
    }
    const samples = fromSamples.get(index.oid)
    // The samples vouch only up to the latest one: from there on, the record (or a recent sample) must.
    const latest = samples?.latest.getTime() ?? Number.NEGATIVE_INFINITY
    if (samples && (since < now ? latest >= since : now - latest <= RECENT_SAMPLE_MS)) {
      const start = samples.moved ? samples.moved.getTime() : samples.first.getTime()
      if (start < since) since = start
    }
    return {
      oid: index.oid,
      schema: table.schema,
      table: table.name,
      index: index.name,
      scans: index.scans,
      unchangedSince: since,
    }
  })
}
