import { randomBytes } from 'node:crypto'
import { migrate } from '@cairn/core'
import { migrationsDir } from '@cairn/sql'
import pg from 'pg'
import { inject } from 'vitest'

export interface TestDatabase {
  readonly url: string
  readonly name: string
  drop(): Promise<void>
}

/**
 * A fresh database on the test cluster (from template1, which has hypopg and
 * pg_stat_statements), so test files never see each other's tables.
 */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const adminUrl = inject('databaseUrl')
  const name = `cairn_${prefix}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      try {
        // A temporary replication slot (the cache's follower) is released a moment after its
        // connection ends; until then PostgreSQL refuses the drop.
        for (let tries = 0; ; tries++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
            break
          } catch (err) {
            if (tries >= 50 || !/active logical replication slot/.test((err as Error).message)) throw err
            await new Promise((r) => setTimeout(r, 100))
          }
        }
      } finally {
        await c.end()
      }
    },
  }
}

/** A fresh test database with all of Cairn's migrations applied. */
export async function createMigratedTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix)
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try {
    await migrate(client, migrationsDir)
  } finally {
    await client.end()
  }
  return db
}
