import { type CairnConfig, connectPostgres, type Logger, loadConfig, migrate } from '@cairn/core'
import { migrationsDir } from '@cairn/sql'
import pg from 'pg'
import { type OpenDatabase, openDatabase } from './open-database.js'

export interface DatabaseContext {
  readonly config: CairnConfig
  readonly db: OpenDatabase
  readonly pool: pg.Pool
}

/** Runs a command against Cairn's database (migrated first), then releases it. */
export async function withDatabase<T>(logger: Logger, fn: (ctx: DatabaseContext) => Promise<T>): Promise<T> {
  const config = loadConfig()
  const db = await openDatabase(config, logger)
  try {
    const client = await connectPostgres(db.url)
    try {
      await migrate(client, migrationsDir)
    } finally {
      await client.end()
    }
    const pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'cairn-cli' })
    try {
      return await fn({ config, db, pool })
    } finally {
      await pool.end()
    }
  } finally {
    await db.close()
  }
}
