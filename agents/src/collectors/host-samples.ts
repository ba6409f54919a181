import type pg from 'pg'
import type { HostSample } from './host-rates.js'

export interface HostSamplesOptions {
  /** Only this host's samples. */
  host?: string
  /** Default 10,000. */
  limit?: number
}

/** Host resource samples since `since`, oldest first. */
export async function hostSamples(
  pool: pg.Pool,
  since: Date,
  { host, limit = 10_000 }: HostSamplesOptions = {},
): Promise<HostSample[]> {
  const { rows } = await pool.query<HostSample>(
    `SELECT at, host, interval_seconds AS "intervalSeconds", cpu_percent AS "cpuPercent",
            cpu_iowait_percent AS "cpuIowaitPercent", cpu_count AS "cpuCount",
            mem_used_bytes::float8 AS "memUsedBytes", mem_total_bytes::float8 AS "memTotalBytes",
            disk_read_bytes_per_s AS "diskReadBytesPerS", disk_write_bytes_per_s AS "diskWriteBytesPerS",
            load1, load5, load15
     FROM cairn_meta.host_samples
     WHERE at >= $1 AND ($2::text IS NULL OR host = $2)
     ORDER BY at, host
     LIMIT $3`,
    [since, host ?? null, limit],
  )
  return rows
}
