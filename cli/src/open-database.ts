import { type CairnConfig, EmbeddedPostgresServer, type Logger } from '@cairn/core'
import { readRunState } from './state-file.js'

export interface OpenDatabase {
  readonly url: string
  readonly mode: 'embedded' | 'external'
  /** Stops the embedded server when this call started it; a no-op otherwise. */
  close(): Promise<void>
}

/**
 * The database Cairn works on: CAIRN_DATABASE_URL when set; otherwise the
 * embedded server of a running `cairn start` on the same data dir; otherwise
 * an embedded server started for the caller.
 */
export async function openDatabase(config: CairnConfig, logger: Logger): Promise<OpenDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, mode: 'external', close: async () => {} }
  const running = readRunState(config.dataDir)
  if (running?.databaseMode === 'embedded') return { url: running.databaseUrl, mode: 'embedded', close: async () => {} }
  const server = new EmbeddedPostgresServer({
    dataDir: config.dataDir,
    port: config.embeddedPostgresPort,
    log: (msg) => logger.debug({ component: 'postgres' }, msg),
  })
  const started = performance.now()
  const { url, initialised } = await server.start()
  logger.info(
    { component: 'postgres', dir: server.clusterDir, initialised, ms: Math.round(performance.now() - started) },
    initialised ? 'embedded PostgreSQL initialised and started' : 'embedded PostgreSQL started',
  )
  return { url, mode: 'embedded', close: () => server.stop() }
}
