/**
 * Result cache benchmark: a repeating dashboard workload (plain SQL over the
 * simple query protocol) against PostgreSQL directly, through Cairn's proxy
 * with its result cache off, and through the proxy with the cache on (a cold
 * pass, a warm one, and the warm one again from one client), the same request
 * sequence each time. Writes results/cache-<stamp>.{json,md} and prints the
 * tables.
 *
 *   npm run bench:cache -w @cairn/bench
 *
 * Settings (environment): BENCH_CACHE_REQUESTS (3000), BENCH_CACHE_CLIENTS (8), BENCH_CACHE_SEED (42),
 * BENCH_CACHE_TAIL (0.05: share of requests for arbitrary date ranges), BENCH_CACHE_DATABASE (cairn_cache_bench),
 * BENCH_PROXY_LOG_LEVEL (warn: the proxies' log, on stderr).
 */
import { fileURLToPath } from 'node:url'
import { numericSetting, progress, settingsInEffect } from './bench-settings.js'
import { ensureGoldDataset, GOLD_ROWS } from './cache-dataset.js'
import { type CacheProxyChild, startCacheProxyChild } from './cache-proxy-child.js'
import { statsBetween } from './cache-proxy-stats.js'
import { type CacheBenchReport, latencyTable, passTable, ratioLines, writeCacheReport } from './cache-report.js'
import { type PassInput, type PassName, summarizeCacheBench } from './cache-summary.js'
import { type CacheRequest, cacheWorkload, repeats, warmUpRequests } from './cache-workload.js'
import { CpuMeter } from './cpu-usage.js'
import { databaseUrlFor, ensureDatabase, serverVersion, withClient } from './database.js'
import { describeMachine } from './machine.js'
import { redisVersion } from './redis-admin.js'
import { servicesUpWithRedis } from './services.js'
import { type PassResult, runPass } from './workload-runner.js'

const SETTINGS_ENV = [
  'BENCH_CACHE_REQUESTS',
  'BENCH_CACHE_CLIENTS',
  'BENCH_CACHE_SEED',
  'BENCH_CACHE_TAIL',
  'BENCH_CACHE_DATABASE',
] as const
const POOL_SIZE = 20
const CACHE_TTL_MS = 300_000
const KEY_PREFIX = 'cairn:bench:cache:'

const setting = (name: (typeof SETTINGS_ENV)[number], fallback: number) => numericSetting(name, fallback)
const log = progress

function describePass(name: string, result: PassResult): string {
  const ok = result.latenciesMs.filter((ms) => !Number.isNaN(ms)).length
  const failed = result.errors.length ? `, ${result.errors.length} failed (first: ${result.errors[0]})` : ''
  return `${name}: ${ok} requests in ${(result.wallMs / 1000).toFixed(1)} s${failed}`
}

/** A pass through the proxy, with what its counters grew by and the statements it saw meanwhile. */
async function proxiedPass(
  proxy: CacheProxyChild,
  url: string,
  workload: readonly CacheRequest[],
  clients: number,
): Promise<Required<PassInput>> {
  const before = await proxy.take()
  const { result, cpu } = await measuredPass(url, workload, clients, proxy.pid)
  const after = await proxy.take()
  return { result, clients, cpu, proxy: statsBetween(before, after) }
}

/** A pass with the CPU that the proxy (when there is one), the clients and the whole machine used during it. */
async function measuredPass(
  url: string,
  workload: readonly CacheRequest[],
  clients: number,
  proxyPid?: number,
): Promise<Omit<PassInput, 'proxy'>> {
  const meter = new CpuMeter(proxyPid === undefined ? [] : [proxyPid])
  const result = await runPass(url, workload, clients)
  const { processPct, hostPct } = meter.stop()
  const clientPct = (100 * result.clientCpuMs) / Math.max(1, result.wallMs)
  return { result, clients, cpu: { proxyPct: processPct, clientPct, hostPct } }
}

async function main(): Promise<void> {
  const requests = Math.max(1, Math.floor(setting('BENCH_CACHE_REQUESTS', 3000)))
  const clients = Math.max(1, Math.floor(setting('BENCH_CACHE_CLIENTS', 8)))
  const seed = Math.floor(setting('BENCH_CACHE_SEED', 42))
  const tailShare = Math.min(1, setting('BENCH_CACHE_TAIL', 0.05))
  const database = process.env.BENCH_CACHE_DATABASE || 'cairn_cache_bench'
  const command = [...settingsInEffect(SETTINGS_ENV), 'npm run bench:cache -w @cairn/bench'].join(' ')

  log('starting PostgreSQL and Redis (scripts/services.sh up)')
  const { databaseUrl: adminUrl, redisUrl } = await servicesUpWithRedis()
  if (!redisUrl) throw new Error('scripts/services.sh up printed no CAIRN_REDIS_URL')
  const benchUrl = databaseUrlFor(adminUrl, database)
  const postgres = await withClient(adminUrl, async (client) => {
    if (await ensureDatabase(client, database)) log(`created database ${database}`)
    return serverVersion(client)
  })
  await withClient(benchUrl, async (client) => {
    log(`checking the gold tables in ${database}`)
    if (await ensureGoldDataset(client)) log(`built gold_orders (${GOLD_ROWS} rows) and its views`)
  })
  const redis = await redisVersion(redisUrl)

  const workload = cacheWorkload({ requests, seed, tailShare })
  const repeated = repeats(workload)
  log(`${requests} requests, ${repeated.filter((r) => !r).length} distinct, from ${clients} clients`)
  const proxyOptions = {
    databaseUrl: benchUrl,
    redisUrl,
    poolSize: POOL_SIZE,
    cacheTtlMs: CACHE_TTL_MS,
    keyPrefix: KEY_PREFIX,
  }

  const children = new Set<CacheProxyChild>()
  const stopChild = async (child: CacheProxyChild) => {
    children.delete(child)
    await child.stop()
  }
  const onSignal = () => {
    log('interrupted; stopping the proxies')
    void Promise.all([...children].map(stopChild)).then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const passes: Partial<Record<PassName, PassInput>> = {}
  try {
    log(describePass('warm-up (PostgreSQL direct, not counted)', await runPass(benchUrl, warmUpRequests(), 2)))
    passes.direct = await measuredPass(benchUrl, workload, clients)
    log(describePass('PostgreSQL direct', passes.direct.result))

    const off = await startCacheProxyChild({ ...proxyOptions, cache: false })
    children.add(off)
    log(`Cairn proxy, cache off, on 127.0.0.1:${off.port} (pid ${off.pid})`)
    passes.cacheOff = await measuredPass(proxyUrl(benchUrl, off.port), workload, clients, off.pid)
    log(describePass('proxy, cache off', passes.cacheOff.result))
    await stopChild(off)

    const on = await startCacheProxyChild({ ...proxyOptions, cache: true })
    children.add(on)
    log(`Cairn proxy, cache on, on 127.0.0.1:${on.port} (pid ${on.pid})`)
    const onUrl = proxyUrl(benchUrl, on.port)
    for (const [name, passClients] of [
      ['cold', clients],
      ['warm', clients],
      ['warmOneClient', 1],
    ] as const) {
      const proxied = await proxiedPass(on, onUrl, workload, passClients)
      passes[name] = proxied
      log(
        `${describePass(`proxy, cache on, ${name} (${passClients} clients)`, proxied.result)}; lookups ${JSON.stringify(proxied.proxy.lookups)}`,
      )
    }
    await stopChild(on)
  } finally {
    await Promise.all([...children].map((c) => stopChild(c).catch((err) => log(`cleanup: ${err}`))))
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const { direct, cacheOff, cold, warm, warmOneClient } = passes
  if (!direct || !cacheOff || !cold || !warm || !warmOneClient) throw new Error('a pass did not run')
  const now = new Date()
  const report: CacheBenchReport = {
    date: now.toISOString(),
    command,
    settings: {
      requests,
      clients,
      seed,
      tailShare,
      database,
      rows: GOLD_ROWS,
      poolSize: POOL_SIZE,
      cacheTtlMs: CACHE_TTL_MS,
      redisKeyPrefix: KEY_PREFIX,
    },
    machine: { ...describeMachine(), postgres, redis },
    summary: summarizeCacheBench({ direct, cacheOff, cold, warm, warmOneClient }, workload, repeated),
  }
  const stamp = now.toISOString().slice(0, 16).replace(/:/g, '').replace('T', '-')
  const files = await writeCacheReport(fileURLToPath(new URL('../results/', import.meta.url)), stamp, report)

  console.log(latencyTable(report.summary))
  console.log('')
  console.log(ratioLines(report.summary).join('\n'))
  console.log('')
  console.log(passTable(report.summary))
  console.log(`\nWrote ${files.join(' and ')}`)
}

/** The bench database through a proxy on loopback, as the same user. */
function proxyUrl(databaseUrl: string, port: number): string {
  const u = new URL(databaseUrl)
  u.hostname = '127.0.0.1'
  u.port = String(port)
  return u.toString()
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
})
