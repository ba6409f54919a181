import { createLogger, migrate } from '@cairn/core'
import { runDemo } from '@cairn/pipelines'
import { migrationsDir } from '@cairn/sql'
import pg from 'pg'
import { progress } from './bench-settings.js'
import { databaseUrlFor, ensureDatabase, withClient } from './database.js'
import { dropSecondaryIndexes, type SecondaryIndex } from './index-bench-indexes.js'

export interface DatasetOptions {
  /** The server's maintenance database URL (scripts/services.sh). */
  adminUrl: string
  database: string
  orders: number
  seed: number
  /** Drop the database and load it again even when it holds the requested data. */
  reload: boolean
}

export interface Dataset {
  url: string
  orders: number
  seed: number
  /** False when this run loaded it (or finished an interrupted load). */
  reused: boolean
  loadedAt: string
  /** The pipeline's time for bronze, silver and gold, when it was loaded. */
  loadMs: { bronze: number; silver: number; gold: number } | null
  /** Rows per table and materialized view of silver and gold (the planner's count after the ANALYZE). */
  rows: Record<string, number>
  /** The indexes on silver.* and gold.* beyond primary keys and unique ones, dropped after the load. */
  droppedIndexes: SecondaryIndex[]
  /** Tables and materialized views of silver and gold with their primary keys and unique indexes, bytes. */
  warehouseBytes: number
}

/** What the bench recorded about the data in its database: written `loading` before the load, `loaded` after. */
const MARKER = 'public.index_bench_dataset'

interface Marker {
  orders: number
  seed: number
  state: 'loading' | 'loaded'
  loaded_at: Date | null
  load_ms: Dataset['loadMs']
  rows: Record<string, number> | null
  dropped_indexes: SecondaryIndex[] | null
}

/**
 * The bench's own connections: no statement timeout (the database's default is the workload's). As a startup
 * option: node-postgres does not send a `statement_timeout` of 0.
 */
export const withoutStatementTimeout = { options: '-c statement_timeout=0' } as const

/**
 * The demo data in a database of its own, loaded through Cairn's pipeline
 * (bronze → silver → gold) once and reused while it holds the requested
 * orders; then reduced to primary keys and unique indexes on silver and gold,
 * vacuumed and analysed.
 */
export async function ensureIndexBenchDataset(options: DatasetOptions): Promise<Dataset> {
  const { adminUrl, database, orders, seed } = options
  const url = databaseUrlFor(adminUrl, database)
  let marker = await withClient(adminUrl, async (admin) => {
    const created = await ensureDatabase(admin, database)
    const found = created ? undefined : await readMarker(url)
    const matches = found && found.orders === orders && found.seed === seed
    if (options.reload || (!created && !matches && (found || (await holdsData(url))))) {
      progress(
        `dropping database ${database} (${options.reload ? 'BENCH_INDEX_RELOAD=1' : found ? `it holds ${found.orders} orders of seed ${found.seed}` : 'it holds data the bench did not record'})`,
      )
      await admin.query(`DROP DATABASE ${pg.escapeIdentifier(database)} WITH (FORCE)`)
      await ensureDatabase(admin, database)
      return undefined
    }
    return matches ? found : undefined
  })

  await withClient(url, async (client) => {
    await client.query('SET statement_timeout = 0')
    try {
      const result = await migrate(client, migrationsDir)
      if (result.applied.length > 0) progress(`migrated ${database}: ${result.applied.join(', ')}`)
    } catch (err) {
      throw new Error(
        `${database} could not be migrated (${(err as Error).message}); BENCH_INDEX_RELOAD=1 drops and loads it again`,
      )
    }
    await client.query(`CREATE TABLE IF NOT EXISTS ${MARKER} (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      orders integer NOT NULL,
      seed integer NOT NULL,
      state text NOT NULL,
      loaded_at timestamptz,
      load_ms jsonb,
      rows jsonb,
      dropped_indexes jsonb)`)
    await client.query(`COMMENT ON TABLE ${MARKER} IS 'The index-advisor benchmark: the demo data loaded here'`)
  })

  const reused = marker?.state === 'loaded'
  if (!reused) {
    progress(
      `${marker ? 'finishing the interrupted load of' : 'loading'} ${orders} orders (seed ${seed}) into ${database} through bronze, silver and gold`,
    )
    marker = await load(url, orders, seed)
  } else progress(`reusing ${database}: ${orders} orders (seed ${seed}) loaded ${marker?.loaded_at?.toISOString()}`)

  return withClient(url, async (client) => {
    await client.query('SET statement_timeout = 0')
    const dropped = await dropSecondaryIndexes(client)
    if (dropped.length > 0)
      progress(`dropped ${dropped.length} secondary indexes: ${dropped.map((d) => d.name).join(', ')}`)
    const remembered = mergeDropped(marker?.dropped_indexes ?? [], dropped)
    await client.query(`UPDATE ${MARKER} SET dropped_indexes = $1`, [JSON.stringify(remembered)])
    progress('VACUUM (ANALYZE) of the silver and gold tables')
    for (const relation of await warehouseRelations(client)) {
      // Materialized views are analysed (VACUUM takes them too); the visibility map lets index-only scans skip the heap.
      await client.query(`VACUUM (ANALYZE) ${relation}`)
    }
    return {
      url,
      orders,
      seed,
      reused,
      loadedAt: (marker?.loaded_at ?? new Date()).toISOString(),
      loadMs: marker?.load_ms ?? null,
      rows: await warehouseRows(client),
      droppedIndexes: remembered,
      warehouseBytes: await warehouseBytes(client),
    }
  })
}

async function readMarker(url: string): Promise<Marker | undefined> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [MARKER])
    if (!rows[0]?.exists) return undefined
    return (await client.query<Marker>(`SELECT * FROM ${MARKER}`)).rows[0]
  })
}

/** Whether the database already has orders in silver (data the bench did not record). */
async function holdsData(url: string): Promise<boolean> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ table: string | null }>(`SELECT to_regclass('silver.orders')::text AS table`)
    if (!rows[0]?.table) return false
    return ((await client.query('SELECT 1 FROM silver.orders LIMIT 1')).rowCount ?? 0) > 0
  })
}

async function load(url: string, orders: number, seed: number): Promise<Marker> {
  await withClient(url, (client) =>
    client.query(
      `INSERT INTO ${MARKER} (orders, seed, state) VALUES ($1, $2, 'loading')
       ON CONFLICT (id) DO UPDATE SET orders = EXCLUDED.orders, seed = EXCLUDED.seed, state = 'loading'`,
      [orders, seed],
    ),
  )
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    application_name: 'cairn index bench load',
    ...withoutStatementTimeout,
  })
  const log = createLogger({
    level: process.env.BENCH_PIPELINE_LOG_LEVEL || 'warn',
    format: 'json',
    destination: process.stderr,
  })
  let lastReport = 0
  try {
    // Loading the same options again adds nothing, so an interrupted load resumes where it stopped.
    const result = await runDemo(
      pool,
      { orders, seed },
      {
        log,
        onProgress: (p) => {
          if (Date.now() - lastReport < 30_000 && p.done !== p.total) return
          lastReport = Date.now()
          progress(`load: ${p.phase} ${p.done}/${p.total}, ${p.rows.toLocaleString('en-US')} rows`)
        },
      },
    )
    const rows = Object.fromEntries(result.tables.map((t) => [`silver.${t.table}`, t.silver]))
    const { rows: stored } = await pool.query<Marker>(
      `UPDATE ${MARKER} SET state = 'loaded', loaded_at = now(), load_ms = $1, rows = $2 RETURNING *`,
      [JSON.stringify(result.ms), JSON.stringify(rows)],
    )
    progress(
      `loaded in ${((result.ms.bronze + result.ms.silver + result.ms.gold) / 1000).toFixed(0)} s (bronze ${(result.ms.bronze / 1000).toFixed(0)} s, silver ${(result.ms.silver / 1000).toFixed(0)} s, gold ${(result.ms.gold / 1000).toFixed(0)} s)`,
    )
    return stored[0] as Marker
  } finally {
    await pool.end()
  }
}

/** Earlier runs' record first, then what this run dropped (by schema and name). */
function mergeDropped(earlier: readonly SecondaryIndex[], now: readonly SecondaryIndex[]): SecondaryIndex[] {
  const byName = new Map(earlier.map((d) => [`${d.schema}.${d.name}`, d]))
  for (const d of now) byName.set(`${d.schema}.${d.name}`, d)
  return [...byName.values()]
}

/** Tables and materialized views of silver and gold, quoted and schema-qualified. */
async function warehouseRelations(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ relation: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS relation
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('silver', 'gold') AND c.relkind IN ('r', 'm', 'p')
      ORDER BY 1`,
  )
  return rows.map((r) => r.relation)
}

async function warehouseRows(client: pg.ClientBase): Promise<Record<string, number>> {
  const { rows } = await client.query<{ relation: string; rows: number }>(
    `SELECT n.nspname || '.' || c.relname AS relation, greatest(c.reltuples, 0)::float8 AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('silver', 'gold') AND c.relkind IN ('r', 'm', 'p')
      ORDER BY 1`,
  )
  // reltuples after the VACUUM (ANALYZE) above: exact enough, and free on large tables.
  return Object.fromEntries(rows.map((r) => [r.relation, Math.round(r.rows)]))
}

async function warehouseBytes(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ bytes: number }>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('silver', 'gold') AND c.relkind IN ('r', 'm', 'p')`,
  )
  return Number(rows[0]?.bytes ?? 0)
}

/**
 * Reads every table, materialized view and index of silver and gold through
 * the OS page cache (pg_prewarm's `read` mode), so that each pass starts with
 * the warehouse cached alike: the first pass is not the only one that reads
 * from disk, and new indexes are cached as the tables are.
 */
export async function prewarmWarehouse(db: pg.Pool): Promise<void> {
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_prewarm')
  await db.query(
    `SELECT sum(pg_prewarm(c.oid, 'read'))
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('silver', 'gold') AND c.relkind IN ('r', 'm', 'i')`,
  )
}
