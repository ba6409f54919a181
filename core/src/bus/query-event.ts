import type { DeepReadonly } from './deep-freeze.js'

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'ddl' | 'utility' | 'transaction' | 'unknown'

/** One statement as the proxy saw it. Published once per statement, after it completed. */
export type QueryEvent = DeepReadonly<{
  /** When the statement arrived, epoch milliseconds. */
  at: number
  database: string
  user: string
  applicationName: string
  sessionId: string
  fingerprint: string
  normalizedText: string
  /**
   * The statement as sent, literals included (`$n` placeholders when it came
   * through the extended protocol with parameters). What the latency predictor
   * explains and what verification replays.
   */
  text?: string
  /** Bind parameters in text form (null for SQL NULL), when the statement had any and all were sent as text. */
  params?: (string | null)[]
  kind: StatementKind
  /** Schema-qualified, resolved through the session's search_path. */
  relationsRead: string[]
  relationsWritten: string[]
  deterministic: boolean
  /** Why not deterministic: `calls now()`, `FOR UPDATE/SHARE`, `temporary table`… Empty when deterministic. */
  nondeterministicReasons: string[]
  /** Columns used in predicates, joins, GROUP BY and ORDER BY; `relation` is schema-qualified or null when unknown. */
  columns: { relation: string | null; column: string; role: 'predicate' | 'join' | 'groupBy' | 'orderBy' }[]
  /** Wall time as seen by the proxy, from the first byte in to the last byte out. */
  durationMs: number
  poolWaitMs: number
  rows: number
  bytesOut: number
  /** SQLSTATE of the error, when the statement failed. */
  sqlstate?: string
  /** What the result cache did: answered it (hit), read it from PostgreSQL and kept it (miss), went around an unavailable cache (bypass), or could not cache it (uncacheable). Absent with the cache off. */
  cache?: 'hit' | 'miss' | 'bypass' | 'uncacheable'
  /** Why it could not be cached, when `cache` is `uncacheable`. */
  cacheReason?: string
}>
