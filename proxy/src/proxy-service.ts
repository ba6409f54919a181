import { type CairnConfig, connectPostgres, type EventBus, type Logger, redactUrl } from '@cairn/core'
import type pg from 'pg'
import { loadSqlParser } from './analysis/analyze-sql.js'
import { RelationResolver } from './analysis/relation-resolver.js'
import { AuthQueryStore, type CredentialStore, UsersFileStore } from './auth/credential-store.js'
import { ProxyServer } from './proxy-server.js'
import { QueryEventWriter } from './telemetry/query-event-writer.js'
import { TelemetryPipeline } from './telemetry/telemetry-pipeline.js'

export interface ProxyService {
  readonly proxy: ProxyServer
  readonly address: { host: string; port: number }
  stop(): Promise<void>
}

const CATALOG_SQL = `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')`

/**
 * The proxy with everything around it, as `cairn start` runs it: users looked
 * up in PostgreSQL (or a users file), telemetry analysed off the hot path,
 * published on the bus and persisted to cairn_meta.query_events.
 */
export async function startProxyService(
  config: CairnConfig,
  databaseUrl: string,
  bus: EventBus,
  log: Logger,
): Promise<ProxyService> {
  const proxyLog = log.child({ component: 'proxy' })
  const opened: pg.Client[] = []
  const open = async (name: string) => {
    const c = await connectPostgres(databaseUrl, { applicationName: `cairn ${name}` })
    c.on('error', (err) => proxyLog.warn({ err, connection: name }, 'internal connection lost'))
    opened.push(c)
    return c
  }
  await loadSqlParser()
  const catalog = await open('catalog')
  const resolver = new RelationResolver()
  const refreshCatalog = async () =>
    resolver.load((await catalog.query<{ schema: string; name: string }>(CATALOG_SQL)).rows)
  await refreshCatalog()
  const catalogTimer = setInterval(() => void refreshCatalog().catch(() => {}), 30_000).unref()

  const writer = new QueryEventWriter({
    client: await open('telemetry'),
    log: proxyLog,
    retentionDays: config.telemetryRetentionDays,
  })
  await writer.start()
  const statements = new TelemetryPipeline({ bus, resolver, log: proxyLog, onEvent: (e) => writer.add(e) })

  let credentials: CredentialStore
  if (config.proxyUsersFile) {
    credentials = new UsersFileStore(config.proxyUsersFile)
  } else {
    // Reopened when PostgreSQL restarts, so logins work again as soon as it is back.
    let auth: pg.Client | undefined
    credentials = new AuthQueryStore(async () => {
      if (!auth) {
        const c = await open('auth')
        const drop = () => {
          if (auth === c) auth = undefined
        }
        c.on('error', drop)
        c.on('end', drop)
        auth = c
      }
      return auth
    })
  }
  const upstream = new URL(databaseUrl)
  const proxy = new ProxyServer({
    host: config.host,
    port: config.proxyPort,
    upstream: { host: upstream.hostname || '127.0.0.1', port: Number(upstream.port || 5432) },
    auth: config.proxyAuth,
    credentials,
    poolMode: config.proxyPoolMode,
    poolSize: config.proxyPoolSize,
    queueTimeoutMs: config.proxyQueueTimeoutMs,
    serverIdleTimeoutMs: config.proxyServerIdleTimeoutMs,
    maxClients: config.proxyMaxClients,
    ...(config.proxyTlsCert && config.proxyTlsKey
      ? { tls: { certFile: config.proxyTlsCert, keyFile: config.proxyTlsKey } }
      : {}),
    statements,
    log: proxyLog,
  })
  const address = await proxy.listen()
  proxyLog.info(
    { ...address, upstream: redactUrl(databaseUrl), poolMode: config.proxyPoolMode, auth: config.proxyAuth },
    'proxy listening',
  )
  return {
    proxy,
    address,
    async stop() {
      clearInterval(catalogTimer)
      await proxy.close()
      await writer.stop()
      await Promise.all(opened.map((c) => c.end().catch(() => {})))
    },
  }
}
