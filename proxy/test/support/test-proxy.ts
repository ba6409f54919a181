import { createLogger, EventBus, type KeyValueCache, type QueryEvent, RedisCache } from '@cairn/core'
import {
  AuthQueryStore,
  type CredentialStore,
  loadCatalogSnapshot,
  loadSqlParser,
  ProxyServer,
  type ProxyServerOptions,
  RelationResolver,
  ResultCache,
  StatementAnalyzer,
  TelemetryPipeline,
  WriteFollower,
} from '@cairn/proxy'
import pg from 'pg'
import { inject } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js'

export interface TestProxy {
  readonly proxy: ProxyServer
  readonly db: TestDatabase
  /** Connection string through the proxy, as user cairn. */
  readonly url: string
  /** Connection string straight to PostgreSQL. */
  readonly directUrl: string
  readonly port: number
  readonly events: QueryEvent[]
  readonly bus: EventBus
  /** The result cache and its follower of external writes, when started with `cache`. */
  readonly cache: ResultCache | undefined
  readonly follower: WriteFollower | undefined
  /** Reloads the catalog snapshot (after creating tables directly). */
  refreshCatalog(): Promise<void>
  /** Resolves once the telemetry pipeline has published everything recorded so far. */
  settle(): Promise<void>
  close(): Promise<void>
}

/** A proxy in front of a fresh database on the test cluster, users looked up in pg_authid. */
export async function startTestProxy(
  overrides: Partial<ProxyServerOptions> & { credentials?: CredentialStore; cacheStore?: KeyValueCache | 'redis' } = {},
): Promise<TestProxy> {
  await loadSqlParser()
  const { cacheStore, ...proxyOverrides } = overrides
  const db = await createTestDatabase('proxy')
  const admin = new pg.Client({ connectionString: db.url })
  await admin.connect()
  const direct = new URL(db.url)
  const bus = new EventBus()
  const events: QueryEvent[] = []
  bus.subscribe('query', (e) => events.push(e))
  const resolver = new RelationResolver()
  const analyzer = new StatementAnalyzer()
  const log = createLogger({ level: 'silent' })
  const refreshCatalog = () => loadCatalogSnapshot(admin, resolver)
  await refreshCatalog()
  const statements = new TelemetryPipeline({ bus, resolver, analyzer, log })
  let cache: ResultCache | undefined
  let follower: WriteFollower | undefined
  if (cacheStore) {
    const store =
      cacheStore === 'redis'
        ? await new RedisCache({ url: inject('redisUrl'), keyPrefix: `${db.name}:`, failFastMs: 100 }).connect()
        : cacheStore
    cache = new ResultCache({ store, ttlMs: 60_000, maxEntryBytes: 1024 * 1024, log })
    follower = new WriteFollower({ databaseUrl: db.url, cache, log, pollMs: 50 })
    await follower.start()
  }
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    upstream: { host: direct.hostname, port: Number(direct.port) },
    auth: 'scram-sha-256',
    credentials: new AuthQueryStore(async () => admin),
    poolMode: 'transaction',
    poolSize: 3,
    queueTimeoutMs: 5_000,
    serverIdleTimeoutMs: 60_000,
    maxClients: 200,
    statements,
    log,
    ...(cache
      ? {
          cache: {
            results: cache,
            analyzer,
            resolver,
            policy: { deny: [], allow: [] },
            onDdl: () => void refreshCatalog(),
          },
        }
      : {}),
    ...proxyOverrides,
  })
  const { port } = await proxy.listen()
  const url = new URL(db.url)
  url.port = String(port)
  return {
    proxy,
    db,
    url: url.toString(),
    directUrl: db.url,
    port,
    events,
    bus,
    cache,
    follower,
    refreshCatalog,
    async settle() {
      while (statements.queued > 0) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setImmediate(r))
    },
    async close() {
      await proxy.close()
      await follower?.stop()
      await cache?.options.store.close()
      await admin.end()
      await db.drop()
    },
  }
}

/** Runs `fn` with a connected node-postgres client, always ending it. */
export async function withClient<T>(
  url: string,
  fn: (c: pg.Client) => Promise<T>,
  config: pg.ClientConfig = {},
): Promise<T> {
  const client = new pg.Client({ connectionString: url, ...config })
  // A connection the server ends (FATAL) also emits 'error'; the query's own rejection is what tests assert.
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** The SQLSTATE of the error `p` rejects with. */
export async function sqlstateOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${(err as Error).message}`
  }
  throw new Error('expected an error')
}
