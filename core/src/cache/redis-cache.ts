import { Redis } from 'ioredis'
import { errors } from '../errors/error-codes.js'
import type { KeyValueCache } from './key-value-cache.js'

export interface RedisCacheOptions {
  url: string
  /** Prefix of every key, so several Cairns can share one Redis. Default `cairn:`. */
  keyPrefix?: string
  /**
   * Fail a command at once while disconnected, and after this many milliseconds when
   * Redis is slow, instead of queueing it (for callers that would rather go around Redis).
   * Reconnection goes on in the background either way.
   */
  failFastMs?: number
}

/** The Redis-backed cache. Connects lazily; `connect()` checks the server is there. */
export class RedisCache implements KeyValueCache {
  readonly kind = 'redis' as const
  readonly redis: Redis

  constructor({ url, keyPrefix = 'cairn:', failFastMs }: RedisCacheOptions) {
    this.redis = new Redis(
      url,
      failFastMs
        ? {
            keyPrefix,
            lazyConnect: true,
            enableOfflineQueue: false,
            commandTimeout: failFastMs,
            maxRetriesPerRequest: 0,
            retryStrategy: (times) => Math.min(times * 100, 1000),
          }
        : { keyPrefix, lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true },
    )
    // Errors surface on the commands; without a listener ioredis would also print each one.
    this.redis.on('error', () => {})
  }

  /** Connects and pings; throws CAIRN_ERR_REDIS_UNAVAILABLE with the reason when it cannot. */
  async connect(): Promise<this> {
    try {
      if (this.redis.status === 'wait') await this.redis.connect()
      await this.redis.ping()
    } catch (cause) {
      this.redis.disconnect()
      throw errors.REDIS_UNAVAILABLE((cause as Error).message, { cause })
    }
    return this
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(key)) ?? undefined
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return []
    return (await this.redis.mgetBuffer(...keys)).map((v) => v ?? undefined)
  }

  async set(key: string, value: Buffer, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(key, value, 'PX', ttlMs)
    else await this.redis.set(key, value)
  }

  async setIfAbsent(key: string, value: Buffer): Promise<boolean> {
    return (await this.redis.set(key, value, 'NX')) === 'OK'
  }

  async delete(...keys: string[]): Promise<number> {
    return keys.length === 0 ? 0 : this.redis.del(...keys)
  }

  async increment(key: string): Promise<number> {
    return this.redis.incr(key)
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}
