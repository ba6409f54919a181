/**
 * Runs Cairn's proxy on its own for the result cache benchmark, with the cache
 * on (BENCH_CACHE=on: Redis, the write follower, the shared analyzer and
 * resolver, as `cairn start` builds it) or off (BENCH_CACHE=off). Otherwise as
 * the proxy benchmark's proxy-process.ts: transaction pooling, SCRAM logins
 * checked against pg_authid, telemetry on.
 *
 * It prints `{"port":…,"pid":…,"statsPort":…,"cache":"on"|"off"}` as one JSON
 * line on stdout, and answers `GET /take` on statsPort (loopback) with a
 * ProxyStats: the cache's lookup counters and the statements seen since the
 * previous take. On SIGTERM, SIGINT or the end of stdin (its parent gone) it
 * closes, deletes its cache keys from Redis and prints `{"stopped":true}`.
 *
 * Settings (environment): CAIRN_DATABASE_URL, CAIRN_REDIS_URL (cache on), BENCH_CACHE (on),
 * BENCH_CACHE_KEY_PREFIX (cairn:bench:cache:), BENCH_CACHE_TTL_MS (300000), BENCH_PROXY_POOL_SIZE (20),
 * BENCH_PROXY_LOG_LEVEL (warn; debug shows why lookups bypassed the cache). Its log goes to stderr.
 */
import { createServer } from 'node:http'
import { createLogger, EventBus, logLevels, metricsRegistry, RedisCache } from '@cairn/core'
import {
  AuthQueryStore,
  loadCatalogSnapshot,
  loadSqlParser,
  ProxyServer,
  RelationResolver,
  ResultCache,
  type SessionCache,
  StatementAnalyzer,
  type StatementRecord,
  type StatementSink,
  TelemetryPipeline,
  WriteFollower,
} from '@cairn/proxy'
import pg from 'pg'
import type { ProxyStats } from './cache-proxy-stats.js'
import { deleteKeysWithPrefix } from './redis-admin.js'

function logLevel(): string {
  const level = process.env.BENCH_PROXY_LOG_LEVEL || 'warn'
  if (!(logLevels as readonly string[]).includes(level))
    throw new Error(`BENCH_PROXY_LOG_LEVEL: unknown level ${level}`)
  return level
}

function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

/** Sums of the counters the cache keeps in the process's Prometheus registry. */
async function counterValues(name: string): Promise<Record<string, number>> {
  const metric = metricsRegistry.getSingleMetric(name)
  const out: Record<string, number> = {}
  if (!metric) return out
  for (const { labels, value } of (await metric.get()).values) {
    const label = String(labels.outcome ?? 'total')
    out[label] = (out[label] ?? 0) + value
  }
  return out
}

/** Counts statements by cache outcome and keeps their durations until the next take. */
class StatementTally implements StatementSink {
  #durations: Record<string, number[]> = {}
  #reasons: Record<string, number> = {}

  constructor(private readonly next: StatementSink) {}

  record(r: StatementRecord): void {
    const outcome = r.cache ?? 'none'
    let durations = this.#durations[outcome]
    if (!durations) {
      durations = []
      this.#durations[outcome] = durations
    }
    durations.push(r.durationMs)
    if (r.cacheReason) this.#reasons[r.cacheReason] = (this.#reasons[r.cacheReason] ?? 0) + 1
    this.next.record(r)
  }

  take(): { durationsMs: Record<string, number[]>; uncacheableReasons: Record<string, number> } {
    const taken = { durationsMs: this.#durations, uncacheableReasons: this.#reasons }
    this.#durations = {}
    this.#reasons = {}
    return taken
  }
}

async function main(): Promise<void> {
  const databaseUrl = required('CAIRN_DATABASE_URL')
  const cacheOn = (process.env.BENCH_CACHE ?? 'on') !== 'off'
  const keyPrefix = process.env.BENCH_CACHE_KEY_PREFIX || 'cairn:bench:cache:'
  const redisUrl = cacheOn ? required('CAIRN_REDIS_URL') : undefined
  const upstream = new URL(databaseUrl)
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()

  // Its log goes to stderr, which the bench shows: stdout carries the JSON lines the bench reads.
  const log = createLogger({ level: logLevel(), format: 'json', destination: process.stderr })
  await loadSqlParser()
  const resolver = new RelationResolver()
  await loadCatalogSnapshot(admin, resolver)
  const analyzer = new StatementAnalyzer()
  const tally = new StatementTally(new TelemetryPipeline({ bus: new EventBus(), resolver, analyzer, log }))

  let cache: SessionCache | undefined
  let follower: WriteFollower | undefined
  let store: RedisCache | undefined
  if (redisUrl) {
    // A cold start: nothing a previous run left under this prefix.
    await deleteKeysWithPrefix(redisUrl, keyPrefix)
    store = await new RedisCache({ url: redisUrl, keyPrefix, failFastMs: 100 }).connect()
    const ttlMs = Number(process.env.BENCH_CACHE_TTL_MS || 300_000)
    const results = new ResultCache({ store, ttlMs, maxEntryBytes: 4 * 1024 * 1024, log })
    follower = new WriteFollower({ databaseUrl, cache: results, log })
    await follower.start()
    cache = { results, analyzer, resolver, policy: { deny: [], allow: [] }, onDdl() {} }
  }

  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    upstream: { host: upstream.hostname, port: Number(upstream.port || 5432) },
    auth: 'scram-sha-256',
    credentials: new AuthQueryStore(async () => admin),
    poolMode: 'transaction',
    poolSize: Number(process.env.BENCH_PROXY_POOL_SIZE || 20),
    queueTimeoutMs: 10_000,
    serverIdleTimeoutMs: 60_000,
    maxClients: 1000,
    statements: tally,
    ...(cache ? { cache } : {}),
    log,
  })
  const { port } = await proxy.listen()

  const stats = createServer((req, res) => {
    if (req.url !== '/take') {
      res.writeHead(404).end()
      return
    }
    void (async () => {
      const [lookups, storeErrors, storedBytes] = await Promise.all([
        counterValues('cairn_cache_lookups_total'),
        counterValues('cairn_cache_errors_total'),
        counterValues('cairn_cache_stored_bytes_total'),
      ])
      const body: ProxyStats = {
        lookups,
        storeErrors: storeErrors.total ?? 0,
        storedBytes: storedBytes.total ?? 0,
        ...tally.take(),
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })().catch((err: unknown) => res.writeHead(500).end(String(err)))
  })
  await new Promise<void>((resolve) => stats.listen(0, '127.0.0.1', resolve))
  const address = stats.address()
  const statsPort = typeof address === 'object' && address ? address.port : 0

  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    stats.close()
    stats.closeAllConnections()
    await proxy.close()
    await follower?.stop()
    await store?.close()
    if (redisUrl) await deleteKeysWithPrefix(redisUrl, keyPrefix).catch(() => 0)
    await admin.end().catch(() => {})
    process.stdout.write(`${JSON.stringify({ stopped: true })}\n`, () => process.exit(0))
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
  process.stdin.once('end', () => void stop())
  process.stdin.resume()

  process.stdout.write(
    `${JSON.stringify({ port, pid: process.pid, statsPort, cache: cacheOn ? 'on' : 'off', keyPrefix })}\n`,
  )
}

main().catch((err: unknown) => {
  console.error(`cache-proxy-process: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
