import type { ReadOnlyDb } from '@cairn/plugins'

/** Mean host CPU (percent) over `[from, to)` (epoch milliseconds), or null when unknown. */
export type HostCpu = (window: { readonly from: number; readonly to: number }, db: ReadOnlyDb) => Promise<number | null>

/**
 * Host CPU from the samples the host collector stores in
 * `cairn_meta.host_samples(at, cpu_percent, ...)`. Reads them only when the table
 * exists (the collector may not be installed); null when it does not or holds
 * no sample for the window. Samples of every host are averaged unless `host` names one.
 */
export function hostCpuFromSamples({ host }: { host?: string } = {}): HostCpu {
  let present = false
  return async ({ from, to }, db) => {
    if (!present) {
      const { rows } = await db.query<{ present: boolean }>(
        `SELECT to_regclass('cairn_meta.host_samples') IS NOT NULL AS present`,
      )
      present = rows[0]?.present === true
      if (!present) return null
    }
    const { rows } = await db.query<{ cpu: number | null }>(
      `SELECT avg(cpu_percent)::float8 AS cpu FROM cairn_meta.host_samples
        WHERE at >= to_timestamp($1::float8 / 1000) AND at < to_timestamp($2::float8 / 1000)
          AND ($3::text IS NULL OR host = $3)`,
      [from, to, host ?? null],
    )
    return rows[0]?.cpu ?? null
  }
}
