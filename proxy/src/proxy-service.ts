import {
  type CairnConfig,
  connectPostgres,
  type EventBus,
  type KeyValueCache,
  type Logger,
  MemoryCache,
  RedisCache,
  redactUrl,
} from '@cairn/core'
import type pg from 'pg'
import { loadSqlParser } from './analysis/analyze-sql.js'
import { loadCatalogSnapshot } from './analysis/catalog-snapshot.js'
import { RelationResolver } from './analysis/relation-resolver.js'
import { StatementAnalyzer } from './analysis/statement-analyzer.js'
import { AuthQueryStore, type CredentialStore, UsersFileStore } from './auth/credential-store.js'
import { ResultCache } from './cache/result-cache.js'
import { WriteFollower } from './cache/write-follower.js'
import { ProxyServer } from './proxy-server.js'
import type { SessionCache } from './session/client-session.js'
import { QueryEventWriter } from './telemetry/query-event-writer.js'
import { TelemetryPipeline } from './telemetry/telemetry-pipeline.js'

export interface ProxyService {
  readonly proxy: ProxyServer
  readonly address: { host: string; port: number }
  /** The result cache, when on (pipelines invalidate through it after their commits). */
  readonly cache: ResultCache | undefined
  stop(): Promise<void>
}

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
  const refreshCatalog = () => loadCatalogSnapshot(catalog, resolver)
  await refreshCatalog()
  const catalogTimer = setInterval(() => void refreshCatalog().catch(() => {}), 30_000).unref()
  let refreshSoon: NodeJS.Timeout | undefined
  // After DDL through the proxy: new tables and views become cacheable soon, not in 30 s.
  const onDdl = () => {
    refreshSoon ??= setTimeout(() => {
      refreshSoon = undefined
      void refreshCatalog().catch(() => {})
    }, 50)
  }
  const analyzer = new StatementAnalyzer()

  const writer = new QueryEventWriter({
    client: await open('telemetry'),
    log: proxyLog,
    retentionDays: config.telemetryRetentionDays,
  })
  await writer.start()
  const statements = new TelemetryPipeline({ bus, resolver, analyzer, log: proxyLog, onEvent: (e) => writer.add(e) })
  const cache = await startResultCache(config, databaseUrl, proxyLog)
  const sessionCache: SessionCache | undefined = cache && {
    results: cache.results,
    analyzer,
    resolver,
    policy: { deny: config.cacheDeny, allow: config.cacheAllow },
    onDdl,
  }

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
    ...(sessionCache ? { cache: sessionCache } : {}),
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
    cache: cache?.results,
    async stop() {
      clearInterval(catalogTimer)
      clearTimeout(refreshSoon)
      await proxy.close()
      await cache?.stop()
      await writer.stop()
      await Promise.all(opened.map((c) => c.end().catch(() => {})))
    },
  }
}

/**
 * The result cache over Redis (or the in-process LRU), with the follower of
 * writes that bypass the proxy. Without the follower (wal_level below logical)
 * the cache stays off: it would serve results older than such writes.
 */
async function startResultCache(
  config: CairnConfig,
  databaseUrl: string,
  log: Logger,
): Promise<{ results: ResultCache; stop(): Promise<void> } | undefined> {
  if (config.cache === 'off') {
    log.info('result cache: off (CAIRN_CACHE=off)')
    return undefined
  }
  let store: KeyValueCache
  if (config.redisUrl) {
    const redis = new RedisCache({ url: config.redisUrl, keyPrefix: 'cairn:cache:', failFastMs: 100 })
    // Not reachable now is not fatal: lookups bypass it until it is.
    await redis.connect().catch((err: Error) => log.warn({ err: err.message }, 'result cache: Redis not reachable yet'))
    store = redis
  } else {
    store = new MemoryCache()
  }
  const results = new ResultCache({
    store,
    ttlMs: config.cacheTtlMs,
    ttlByRelation: config.cacheTtlByRelation,
    admitMs: config.cacheAdmitMs,
    maxEntryBytes: config.cacheMaxEntryBytes,
    log,
  })
  const follower = new WriteFollower({ databaseUrl, cache: results, log })
  try {
    await follower.start()
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'result cache: off, because writes that bypass the proxy cannot be followed (needs wal_level=logical)',
    )
    await store.close()
    return undefined
  }
  log.info({ store: store.kind, ttlMs: config.cacheTtlMs, slot: follower.slot }, 'result cache: on')
  return {
    results,
    async stop() {
      await follower.stop()
      await store.close()
    },
  }
}
