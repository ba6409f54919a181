import { fileURLToPath } from 'node:url'
import type { ProxyStats } from './cache-proxy-stats.js'
import { startNodeChild } from './node-child.js'

export interface CacheProxyChild {
  port: number
  pid: number
  cache: boolean
  /** The cache's counters, and the statements the proxy saw since the previous take. */
  take(): Promise<ProxyStats>
  stop(): Promise<void>
}

const ENTRY = fileURLToPath(new URL('./cache-proxy-process.js', import.meta.url))

export interface CacheProxyOptions {
  databaseUrl: string
  redisUrl: string
  cache: boolean
  poolSize: number
  cacheTtlMs: number
  /** Where its entries go in Redis: deleted when it starts and when it stops. */
  keyPrefix: string
}

/** Starts Cairn's proxy, with its result cache on or off, in a Node process of its own (cache-proxy-process.ts). */
export async function startCacheProxyChild(options: CacheProxyOptions): Promise<CacheProxyChild> {
  const child = await startNodeChild(ENTRY, {
    label: options.cache ? 'proxy (cache on)' : 'proxy (cache off)',
    env: {
      ...process.env,
      CAIRN_DATABASE_URL: options.databaseUrl,
      CAIRN_REDIS_URL: options.redisUrl,
      BENCH_CACHE: options.cache ? 'on' : 'off',
      BENCH_CACHE_TTL_MS: String(options.cacheTtlMs),
      BENCH_CACHE_KEY_PREFIX: options.keyPrefix,
      BENCH_PROXY_POOL_SIZE: String(options.poolSize),
    },
  })
  const statsPort = child.ready.statsPort
  if (typeof statsPort !== 'number') {
    await child.stop()
    throw new Error('the proxy process reported no statsPort')
  }
  return {
    port: child.port,
    pid: child.pid,
    cache: options.cache,
    async take() {
      const response = await fetch(`http://127.0.0.1:${statsPort}/take`)
      if (!response.ok) throw new Error(`proxy stats: HTTP ${response.status}: ${await response.text()}`)
      return (await response.json()) as ProxyStats
    },
    stop: child.stop,
  }
}
