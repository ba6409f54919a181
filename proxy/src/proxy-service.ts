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

const CATALOG_SQL = `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')`

/** What each plain view's rewrite rule reads (a materialized view is data of its own). */
const VIEW_DEPS_SQL = `SELECT DISTINCT vn.nspname || '.' || v.relname AS view, tn.nspname || '.' || t.relname AS base
  FROM pg_rewrite r
  JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
  JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace`

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
  const refreshCatalog = async () => {
    const [relations, views] = await Promise.all([
      catalog.query<{ schema: string; name: string }>(CATALOG_SQL),
      catalog.query<{ view: string; base: string }>(VIEW_DEPS_SQL),
    ])
    resolver.load(relations.rows, views.rows)
  }
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
    const redis = new RedisCache({ url: config.redisUrl, keyPrefix: 'cairn:cache:', failFastMs: 50 })
    // Not reachable now is not fatal: lookups bypass it until it is.
    await redis.connect().catch((err: Error) => log.warn({ err: err.message }, 'result cache: Redis not reachable yet'))
    store = redis
  } else {
    store = new MemoryCache()
  }
  const results = new ResultCache({ store, ttlMs: config.cacheTtlMs, maxEntryBytes: config.cacheMaxEntryBytes, log })
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
