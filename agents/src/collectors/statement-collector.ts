import pg from 'pg'
import type { Collector, CollectorAvailability } from './collector.js'
import { counterDeltas } from './counter-deltas.js'
import { readTransaction } from './read-transaction.js'

export interface StatementCollectorOptions {
  /** Writable: the samples go to `cairn_meta`. */
  pool: pg.Pool
}

const COUNTERS = [
  'calls',
  'totalExecTimeMs',
  'rows',
  'sharedBlksHit',
  'sharedBlksRead',
  'tempBlksRead',
  'tempBlksWritten',
] as const
type Counters = Record<(typeof COUNTERS)[number], number>

interface Entry extends Counters {
  queryid: string
  dbid: number
  userid: number
}

interface Snapshot {
  at: number
  /** pg_stat_statements_info.stats_reset: a change means the whole view was reset. */
  statsReset: number | null
  entries: Map<string, Entry>
}

interface Source {
  schema: string
  hasInfo: boolean
}

// SQLSTATE 55000 object_not_in_prerequisite_state: "pg_stat_statements must be loaded via shared_preload_libraries".
const NOT_PRELOADED = '55000'
const BYPASS = 'statements that bypass the proxy are not collected'
// The queryids whose text was stored; past this many the set starts over (pg_stat_statements.max is 5,000 by default).
const MAX_KNOWN_TEXTS = 100_000

/**
 * Samples pg_stat_statements as deltas per interval, for the work that does
 * not go through the proxy. The previous snapshot is kept in memory; only
 * entries whose calls changed are stored, with their text once per queryid.
 * Entries are summed over `toplevel`, per (queryid, dbid, userid).
 */
export class StatementCollector implements Collector {
  readonly name = 'statements'
  #availability: CollectorAvailability = { collecting: false, reason: 'pg_stat_statements has not been checked yet' }
  #source: Source | undefined
  #previous: Snapshot | undefined
  readonly #knownTexts = new Set<string>()

  constructor(private readonly options: StatementCollectorOptions) {}

  get availability(): CollectorAvailability {
    return this.#availability
  }

  async sample(): Promise<number> {
    if (!this.#source) {
      this.#source = await this.#check()
      if (!this.#source) return 0
    }
    const source = this.#source
    let snapshot: Snapshot
    try {
      snapshot = await this.#snapshot(source)
    } catch (err) {
      if (!isGone(err)) throw err
      // Dropped, or the server restarted without the library: the status says which, and deltas start over.
      this.#previous = undefined
      this.#source = await this.#check()
      if (this.#source) throw err
      return 0
    }
    const previous = this.#previous
    if (!previous) {
      this.#previous = snapshot
      return 0
    }
    const base = snapshot.statsReset !== previous.statsReset ? new Map<string, Entry>() : previous.entries
    const rows: Entry[] = []
    for (const [key, entry] of snapshot.entries) {
      const deltas = counterDeltas(base.get(key), entry, COUNTERS)
      if (deltas.calls > 0) rows.push({ ...entry, ...deltas })
    }
    if (rows.length > 0) await this.#write(source, snapshot.at, (snapshot.at - previous.at) / 1000, rows)
    // Only now: a failed write leaves the previous snapshot, so the next interval's deltas include this one's.
    this.#previous = snapshot
    return rows.length
  }

  /** Forgets which texts were stored (after retention deleted some), so they are written again when seen. */
  forgetTexts(): void {
    this.#knownTexts.clear()
  }

  async #check(): Promise<Source | undefined> {
    const { pool } = this.options
    const { rows } = await pool.query<{
      schema: string | null
      version: string | null
      has_info: boolean | null
      sees_all: boolean
      database: string
    }>(
      `SELECT n.nspname AS schema, e.extversion AS version,
              CASE WHEN n.nspname IS NOT NULL
                THEN to_regclass(format('%I.pg_stat_statements_info', n.nspname)) IS NOT NULL END AS has_info,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS sees_all,
              current_database() AS database
       FROM (SELECT 1) AS one
       LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
       LEFT JOIN pg_namespace n ON n.oid = e.extnamespace`,
    )
    const row = rows[0]
    if (!row?.schema || !row.version) {
      this.#availability = {
        collecting: false,
        reason: `pg_stat_statements is not installed in database "${row?.database}" (CREATE EXTENSION pg_stat_statements): ${BYPASS}`,
      }
      return undefined
    }
    const [major = 0, minor = 0] = row.version.split('.').map(Number)
    if (major < 1 || (major === 1 && minor < 8)) {
      this.#availability = {
        collecting: false,
        reason: `pg_stat_statements ${row.version} is older than 1.8 (PostgreSQL 13), whose columns the collector reads: ${BYPASS}`,
      }
      return undefined
    }
    const source = { schema: row.schema, hasInfo: row.has_info === true }
    try {
      await pool.query(`SELECT 1 FROM ${pg.escapeIdentifier(source.schema)}.pg_stat_statements(false) LIMIT 1`)
    } catch (err) {
      if ((err as { code?: unknown }).code !== NOT_PRELOADED) throw err
      this.#availability = {
        collecting: false,
        reason: `pg_stat_statements is installed but not loaded (add it to shared_preload_libraries and restart PostgreSQL): ${BYPASS}`,
      }
      return undefined
    }
    this.#availability = {
      collecting: true,
      reason: row.sees_all
        ? 'pg_stat_statements deltas are collected for every database and user of the cluster'
        : 'pg_stat_statements deltas are collected for this role only: it is neither a superuser nor a member of pg_read_all_stats',
    }
    return source
  }

  #snapshot(source: Source): Promise<Snapshot> {
    const schema = pg.escapeIdentifier(source.schema)
    return readTransaction(this.options.pool, async (client) => {
      const info = source.hasInfo
        ? await client.query<{ reset: number | null }>(
            `SELECT extract(epoch FROM stats_reset)::float8 AS reset FROM ${schema}.pg_stat_statements_info`,
          )
        : { rows: [] }
      const { rows } = await client.query<Entry>(
        `SELECT queryid::text AS queryid, dbid, userid,
                sum(calls)::float8 AS calls,
                sum(total_exec_time)::float8 AS "totalExecTimeMs",
                sum(rows)::float8 AS rows,
                sum(shared_blks_hit)::float8 AS "sharedBlksHit",
                sum(shared_blks_read)::float8 AS "sharedBlksRead",
                sum(temp_blks_read)::float8 AS "tempBlksRead",
                sum(temp_blks_written)::float8 AS "tempBlksWritten"
         FROM ${schema}.pg_stat_statements(false)
         WHERE queryid IS NOT NULL
         GROUP BY queryid, dbid, userid`,
      )
      return {
        at: Date.now(),
        statsReset: info.rows[0]?.reset ?? null,
        entries: new Map(rows.map((e) => [`${e.queryid}/${e.dbid}/${e.userid}`, e])),
      }
    })
  }

  async #write(source: Source, at: number, intervalSeconds: number, rows: readonly Entry[]): Promise<void> {
    const { pool } = this.options
    const unknown = [...new Set(rows.map((r) => r.queryid))].filter((q) => !this.#knownTexts.has(q))
    // Reading texts reads pg_stat_statements' whole query file: only for queryids not stored yet.
    const texts = unknown.length
      ? (
          await pool.query<{ queryid: string; query: string }>(
            `SELECT DISTINCT ON (queryid) queryid::text AS queryid, query
             FROM ${pg.escapeIdentifier(source.schema)}.pg_stat_statements(true)
             WHERE queryid = ANY ($1::int8[]) AND query IS NOT NULL
             ORDER BY queryid`,
            [unknown],
          )
        ).rows
      : []
    const col = <T>(f: (r: Entry) => T) => rows.map(f)
    await pool.query(
      `WITH texts AS (
         INSERT INTO cairn_meta.statement_texts (queryid, query, first_seen)
         SELECT q, t, $1 FROM unnest($2::int8[], $3::text[]) AS x(q, t)
         ON CONFLICT (queryid) DO NOTHING
       )
       INSERT INTO cairn_meta.stat_statements_samples (at, interval_seconds, queryid, dbid, userid, calls,
         total_exec_time_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_read, temp_blks_written)
       SELECT $1, $4, q, d, u, c, t, r, h, rd, tr, tw
       FROM unnest($5::int8[], $6::oid[], $7::oid[], $8::int8[], $9::float8[], $10::int8[], $11::int8[], $12::int8[],
                   $13::int8[], $14::int8[]) AS x(q, d, u, c, t, r, h, rd, tr, tw)`,
      [
        new Date(at),
        texts.map((t) => t.queryid),
        texts.map((t) => t.query),
        intervalSeconds,
        col((r) => r.queryid),
        col((r) => r.dbid),
        col((r) => r.userid),
        col((r) => r.calls),
        col((r) => Math.max(0, r.totalExecTimeMs)),
        col((r) => r.rows),
        col((r) => r.sharedBlksHit),
        col((r) => r.sharedBlksRead),
        col((r) => r.tempBlksRead),
        col((r) => r.tempBlksWritten),
      ],
    )
    if (this.#knownTexts.size + unknown.length > MAX_KNOWN_TEXTS) this.#knownTexts.clear()
    for (const t of texts) this.#knownTexts.add(t.queryid)
  }
}

/** The view is not there any more: not loaded (55000), or the extension, its function or its schema dropped. */
function isGone(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === NOT_PRELOADED || code === '42P01' || code === '42883' || code === '3F000'
}
