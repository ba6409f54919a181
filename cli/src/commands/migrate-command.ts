import { connectPostgres, type Logger, loadConfig, migrate } from '@cairn/core'
import { migrationsDir } from '@cairn/sql'
import { openDatabase } from '../open-database.js'

export async function migrateCommand(logger: Logger): Promise<number> {
  const config = loadConfig()
  const db = await openDatabase(config, logger)
  try {
    const client = await connectPostgres(db.url)
    try {
      const result = await migrate(client, migrationsDir, (msg) => logger.info({ component: 'migrate' }, msg))
      logger.info(
        { component: 'migrate', applied: result.applied.length, alreadyApplied: result.alreadyApplied },
        result.applied.length ? `applied ${result.applied.length} migration(s)` : 'database is up to date',
      )
    } finally {
      await client.end()
    }
  } finally {
    await db.close()
  }
  return 0
}
