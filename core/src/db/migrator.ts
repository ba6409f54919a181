import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type pg from 'pg'
import { errors } from '../errors/error-codes.js'

export interface Migration {
  readonly id: number
  readonly name: string
  readonly file: string
  readonly sql: string
  /** sha256 of the file, line endings normalized, so a checkout on another OS is not "changed". */
  readonly checksum: string
  /** Set by a `-- cairn:no-transaction` line, for statements such as CREATE INDEX CONCURRENTLY. */
  readonly transactional: boolean
}

export interface MigrationResult {
  readonly applied: readonly string[]
  readonly alreadyApplied: number
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/
// Any constant works; it only has to be the same in every Cairn process.
const MIGRATION_LOCK_KEY = 4_212_020_001
const TABLE = 'cairn_meta.schema_migrations'

/** Reads `NNNN_name.sql` files in id order. Any other `.sql` file, or a repeated id, is an error. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const seen = new Map<number, string>()
  const migrations: Migration[] = []
  for (const file of files) {
    const match = FILE_NAME.exec(file)
    if (!match) throw errors.MIGRATION_INVALID_NAME(`${join(dir, file)} (expected e.g. 0001_create_schemas.sql)`)
    const id = Number(match[1])
    const twin = seen.get(id)
    if (twin) throw errors.MIGRATION_INVALID_NAME(`${file} and ${twin} share the id ${match[1]}`)
    seen.set(id, file)
    const sql = (await readFile(join(dir, file), 'utf8')).replace(/\r\n/g, '\n')
    migrations.push({
      id,
      name: match[2] as string,
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      transactional: !/^--\s*cairn:no-transaction\s*$/m.test(sql),
    })
  }
  return migrations
}

interface AppliedRow {
  id: number
  name: string
  checksum: string
}

/**
 * Applies the migrations in `dir` that have not run yet, each in its own
 * transaction, under an advisory lock so two Cairn processes never race.
 * Before applying anything it checks that every applied migration is still
 * present and unchanged, and refuses to go on otherwise.
 */
export async function migrate(
  client: pg.ClientBase,
  dir: string,
  log: (msg: string) => void = () => {},
): Promise<MigrationResult> {
  const migrations = await loadMigrations(dir)
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS cairn_meta`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      id integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      duration_ms integer NOT NULL
    )`)
    const applied = await appliedMigrations(client)
    verifyApplied(migrations, applied, dir)

    const done = new Set(applied.map((r) => r.id))
    const result: string[] = []
    for (const m of migrations.filter((m) => !done.has(m.id))) {
      const started = performance.now()
      try {
        if (m.transactional) await client.query('BEGIN')
        await client.query(m.sql)
        await client.query(`INSERT INTO ${TABLE} (id, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)`, [
          m.id,
          m.name,
          m.checksum,
          Math.round(performance.now() - started),
        ])
        if (m.transactional) await client.query('COMMIT')
      } catch (cause) {
        if (m.transactional) await client.query('ROLLBACK').catch(() => {})
        const pgErr = cause as { message: string; code?: string }
        throw errors.MIGRATION_FAILED(`${m.file}: ${pgErr.message}${pgErr.code ? ` (SQLSTATE ${pgErr.code})` : ''}`, {
          cause,
        })
      }
      log(`applied ${m.file} in ${Math.round(performance.now() - started)} ms`)
      result.push(m.file)
    }
    return { applied: result, alreadyApplied: done.size }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {})
  }
}

export interface MigrationStatus {
  readonly applied: readonly string[]
  readonly pending: readonly string[]
}

/** What has run and what would run, checking applied migrations the same way `migrate` does. */
export async function migrationStatus(client: pg.ClientBase, dir: string): Promise<MigrationStatus> {
  const migrations = await loadMigrations(dir)
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [TABLE])
  const applied = exists.rows[0]?.t ? await appliedMigrations(client) : []
  verifyApplied(migrations, applied, dir)
  const done = new Set(applied.map((r) => r.id))
  return {
    applied: migrations.filter((m) => done.has(m.id)).map((m) => m.file),
    pending: migrations.filter((m) => !done.has(m.id)).map((m) => m.file),
  }
}

async function appliedMigrations(client: pg.ClientBase): Promise<AppliedRow[]> {
  return (await client.query<AppliedRow>(`SELECT id, name, checksum FROM ${TABLE} ORDER BY id`)).rows
}

function verifyApplied(migrations: readonly Migration[], applied: readonly AppliedRow[], dir: string): void {
  const byId = new Map(migrations.map((m) => [m.id, m]))
  for (const row of applied) {
    const m = byId.get(row.id)
    const label = `${String(row.id).padStart(4, '0')}_${row.name}.sql`
    if (!m) throw errors.MIGRATION_MISSING(`${label} was applied but is not in ${dir}`)
    if (m.name !== row.name || m.checksum !== row.checksum) {
      throw errors.MIGRATION_CHANGED(
        `${m.file} differs from what was applied as ${label} (checksum ${row.checksum.slice(0, 12)}…, now ${m.checksum.slice(0, 12)}…); add a new migration instead of editing an applied one`,
      )
    }
  }
}
