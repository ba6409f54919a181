import type pg from 'pg'
import type { CollectorName } from './collector.js'

/** What a collector collects (or why not) and how it has fared, as `cairn_meta.collector_status` keeps it. */
export interface CollectorStatus {
  readonly collector: CollectorName
  /** The process that runs it. */
  readonly host: string
  readonly collecting: boolean
  /** A sentence: what is collected, or why nothing is. */
  readonly reason: string
  readonly intervalMs: number
  /** Intervals sampled without an error. */
  readonly samples: number
  readonly errors: number
  readonly lastError: string | null
  readonly lastSampleAt: Date | null
  readonly updatedAt: Date
}

/** Writes a collector's status; the row is the collector's, whichever process ran it last. */
export async function saveCollectorStatus(pool: pg.Pool, s: CollectorStatus): Promise<void> {
  await pool.query(
    `INSERT INTO cairn_meta.collector_status (collector, host, collecting, reason, interval_ms, samples, errors,
       last_error, last_sample_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (collector) DO UPDATE SET host = excluded.host, collecting = excluded.collecting,
       reason = excluded.reason, interval_ms = excluded.interval_ms, samples = excluded.samples,
       errors = excluded.errors, last_error = excluded.last_error, last_sample_at = excluded.last_sample_at,
       updated_at = excluded.updated_at`,
    [
      s.collector,
      s.host,
      s.collecting,
      s.reason,
      Math.round(s.intervalMs),
      s.samples,
      s.errors,
      s.lastError,
      s.lastSampleAt,
      s.updatedAt,
    ],
  )
}

/** Every collector's last written status, by name. */
export async function collectorStatus(pool: pg.Pool): Promise<CollectorStatus[]> {
  const { rows } = await pool.query<CollectorStatus>(
    `SELECT collector, host, collecting, reason, interval_ms AS "intervalMs", samples::float8 AS samples,
            errors::float8 AS errors, last_error AS "lastError", last_sample_at AS "lastSampleAt",
            updated_at AS "updatedAt"
     FROM cairn_meta.collector_status
     ORDER BY collector`,
  )
  return rows
}
