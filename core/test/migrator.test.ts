import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, isCairnError, migrate, migrationStatus } from '@cairn/core'
import { migrationsDir } from '@cairn/sql'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.js'

let db: TestDatabase
let client: pg.Client

beforeAll(async () => {
  db = await createTestDatabase('migrate')
  client = await connectPostgres(db.url)
})
afterAll(async () => {
  await client?.end()
  await db?.drop()
})

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-migrations-'))
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql)
  return dir
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

describe('migrations', () => {
  it("applies Cairn's own migrations on an empty database, then re-applying is a no-op", async () => {
    const first = await migrate(client, migrationsDir)
    expect(first.applied).toContain('0001_medallion_schemas.sql')
    const schemas = await client.query<{ nspname: string }>(
      `SELECT nspname FROM pg_namespace WHERE nspname IN ('bronze', 'silver', 'gold', 'cairn_meta') ORDER BY 1`,
    )
    expect(schemas.rows.map((r) => r.nspname)).toEqual(['bronze', 'cairn_meta', 'gold', 'silver'])
    const recorded = await client.query(`SELECT id, name, checksum FROM cairn_meta.schema_migrations ORDER BY id`)
    expect(recorded.rows[0]).toMatchObject({ id: 1, name: 'medallion_schemas' })
    expect(recorded.rows[0].checksum).toMatch(/^[0-9a-f]{64}$/)

    const second = await migrate(client, migrationsDir)
    expect(second.applied).toEqual([])
    expect(second.alreadyApplied).toBe(first.applied.length)
    expect(await migrationStatus(client, migrationsDir)).toEqual({ applied: first.applied, pending: [] })
  })

  it('applies only the new migration, and refuses a tampered one before applying anything', async () => {
    const scratch = await createTestDatabase('tamper')
    const c = await connectPostgres(scratch.url)
    try {
      const dir = dirWith({ '0001_a.sql': 'CREATE TABLE a (id int);' })
      expect((await migrate(c, dir)).applied).toEqual(['0001_a.sql'])

      writeFileSync(join(dir, '0002_b.sql'), 'CREATE TABLE b (id int);')
      expect(await migrationStatus(c, dir)).toEqual({ applied: ['0001_a.sql'], pending: ['0002_b.sql'] })
      expect((await migrate(c, dir)).applied).toEqual(['0002_b.sql'])

      writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);')
      writeFileSync(join(dir, '0003_c.sql'), 'CREATE TABLE c (id int);')
      const err = await rejection(migrate(c, dir))
      expect(isCairnError(err, 'CAIRN_ERR_MIGRATION_CHANGED')).toBe(true)
      expect(err.message).toMatch(/0001_a\.sql differs from what was applied/)
      const c3 = await c.query(`SELECT to_regclass('public.c') AS t`)
      expect(c3.rows[0].t).toBeNull()

      rmSync(join(dir, '0001_a.sql'))
      const missing = await rejection(migrate(c, dir))
      expect(isCairnError(missing, 'CAIRN_ERR_MIGRATION_MISSING')).toBe(true)
    } finally {
      await c.end()
      await scratch.drop()
    }
  })

  it('rolls back a failing migration whole and reports the file and SQLSTATE', async () => {
    const scratch = await createTestDatabase('fail')
    const c = await connectPostgres(scratch.url)
    try {
      const dir = dirWith({ '0001_half.sql': 'CREATE TABLE half (id int); SELECT * FROM no_such_table;' })
      const err = await rejection(migrate(c, dir))
      expect(isCairnError(err, 'CAIRN_ERR_MIGRATION_FAILED')).toBe(true)
      expect(err.message).toMatch(/0001_half\.sql: relation "no_such_table" does not exist \(SQLSTATE 42P01\)/)
      const t = await c.query(`SELECT to_regclass('public.half') AS t`)
      expect(t.rows[0].t).toBeNull()
      expect((await c.query('SELECT count(*)::int AS n FROM cairn_meta.schema_migrations')).rows[0].n).toBe(0)
    } finally {
      await c.end()
      await scratch.drop()
    }
  })

  it('refuses badly named and duplicate-id files', async () => {
    const bad = await rejection(migrate(client, dirWith({ 'create.sql': 'SELECT 1' })))
    expect(isCairnError(bad, 'CAIRN_ERR_MIGRATION_INVALID_NAME')).toBe(true)
    const dup = await rejection(migrate(client, dirWith({ '0001_a.sql': 'SELECT 1', '0001_b.sql': 'SELECT 1' })))
    expect(dup.message).toMatch(/share the id 0001/)
  })

  it('applies each migration once when two processes migrate at the same moment', async () => {
    const scratch = await createTestDatabase('race')
    const [a, b] = await Promise.all([connectPostgres(scratch.url), connectPostgres(scratch.url)])
    try {
      const dir = dirWith({ '0001_t.sql': 'CREATE TABLE t (id int); SELECT pg_sleep(0.2);' })
      const results = await Promise.all([migrate(a, dir), migrate(b, dir)])
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 1])
    } finally {
      await Promise.all([a.end(), b.end()])
      await scratch.drop()
    }
  })
})
