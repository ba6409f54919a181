/**
 * How long a write that bypasses the proxy (straight to PostgreSQL) leaves a stale
 * result in the cache: the proxy (in this process: this measures a bound, not
 * throughput) serves a cached read, a direct UPDATE commits, and the read is repeated
 * until it shows the new value. Once with synchronous_commit on (PostgreSQL's
 * default), once off (the development cluster's setting: decoding sees a commit
 * only once it is flushed). `npm run bench:cache-lag -w @cairn/bench`; BENCH_LAG_WRITES (50).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createLogger, EventBus, RedisCache } from '@cairn/core'
import {
  AuthQueryStore,
  loadCatalogSnapshot,
  loadSqlParser,
  ProxyServer,
  RelationResolver,
  ResultCache,
  StatementAnalyzer,
  TelemetryPipeline,
  WriteFollower,
} from '@cairn/proxy'
import pg from 'pg'
import { latencyStats } from './latency-stats.js'
import { describeMachine } from './machine.js'
import { servicesUpWithRedis } from './services.js'

const writes = Number(process.env.BENCH_LAG_WRITES ?? 50)
const { databaseUrl, redisUrl } = await servicesUpWithRedis()
const log = createLogger({ level: 'warn', format: 'json' })
const admin = new pg.Client({ connectionString: databaseUrl })
await admin.connect()
await admin.query(`CREATE TABLE IF NOT EXISTS cairn_bench_lag (id int PRIMARY KEY, v text);
  INSERT INTO cairn_bench_lag VALUES (1, 'start') ON CONFLICT DO NOTHING`)
await loadSqlParser()
const resolver = new RelationResolver()
await loadCatalogSnapshot(admin, resolver)
const analyzer = new StatementAnalyzer()
const store = await new RedisCache({ url: redisUrl, keyPrefix: 'cairn:bench:lag:', failFastMs: 100 }).connect()
const results = new ResultCache({ store, ttlMs: 300_000, maxEntryBytes: 1 << 20, log })
const follower = new WriteFollower({ databaseUrl, cache: results, log })
await follower.start()
const upstream = new URL(databaseUrl)
const proxy = new ProxyServer({
  host: '127.0.0.1',
  port: 0,
  upstream: { host: upstream.hostname, port: Number(upstream.port) },
  auth: 'scram-sha-256',
  credentials: new AuthQueryStore(async () => admin),
  poolMode: 'transaction',
  poolSize: 4,
  queueTimeoutMs: 10_000,
  serverIdleTimeoutMs: 60_000,
  maxClients: 10,
  statements: new TelemetryPipeline({ bus: new EventBus(), resolver, analyzer, log }),
  cache: { results, analyzer, resolver, policy: { deny: [], allow: [] }, onDdl() {} },
  log,
})
const { port } = await proxy.listen()
const viaProxy = new pg.Client({
  connectionString: Object.assign(new URL(databaseUrl), { port: String(port) }).toString(),
})
await viaProxy.connect()
const direct = new pg.Client({ connectionString: databaseUrl })
await direct.connect()

const runs: Record<string, ReturnType<typeof latencyStats>> = {}
const sql = 'SELECT v FROM cairn_bench_lag WHERE id = 1'
for (const mode of ['on', 'off'] as const) {
  await direct.query(`SET synchronous_commit = ${mode}`)
  const lags: number[] = []
  for (let i = 0; i < writes; i++) {
    await viaProxy.query(sql)
    await viaProxy.query(sql)
    const value = `${mode}-${i}-${Date.now()}`
    await direct.query('UPDATE cairn_bench_lag SET v = $1 WHERE id = 1', [value])
    const written = performance.now()
    while ((await viaProxy.query(sql)).rows[0].v !== value) await new Promise((r) => setTimeout(r, 2))
    lags.push(performance.now() - written)
  }
  runs[`synchronous_commit=${mode}`] = latencyStats(lags)
}

await Promise.all([viaProxy.end(), direct.end()])
await proxy.close()
await follower.stop()
await store.close()
await admin.end()

const machine = describeMachine()
const at = new Date()
const fmt = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(0))
const table = [
  '| writes straight to PostgreSQL | count | p50 ms | p95 ms | p99 ms | max ms |',
  '|---|--:|--:|--:|--:|--:|',
  ...Object.entries(runs).map(
    ([k, s]) => `| ${k} | ${s.count} | ${fmt(s.p50Ms)} | ${fmt(s.p95Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.maxMs)} |`,
  ),
].join('\n')
const md = `# External-write invalidation lag, ${at.toISOString()}

\`npm run bench:cache-lag -w @cairn/bench\`: from the commit of an UPDATE sent straight to PostgreSQL to the first
read through the proxy's cache that shows it (the follower polls its logical decoding slot every 100 ms).

Machine: ${machine.nproc} × ${machine.cpuModel}.

${table}
`
const stamp = at.toISOString().slice(0, 16).replace('T', '-').replace(':', '')
const dir = new URL('../results/', import.meta.url)
mkdirSync(dir, { recursive: true })
writeFileSync(new URL(`cache-lag-${stamp}.md`, dir), md)
writeFileSync(new URL(`cache-lag-${stamp}.json`, dir), `${JSON.stringify({ at, machine, writes, runs }, null, 2)}\n`)
process.stdout.write(`${md}\n`)
