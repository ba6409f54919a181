import { LRUCache } from 'lru-cache'
import type { KeyValueCache } from './key-value-cache.js'

export interface MemoryCacheOptions {
  /** Total bytes held before the least recently used entries go. Default 256 MiB, as Redis's maxmemory. */
  maxBytes?: number
}

/** The in-process stand-in for Redis, with the same LRU eviction policy. */
export class MemoryCache implements KeyValueCache {
  readonly kind = 'memory' as const
  readonly #lru: LRUCache<string, Buffer>

  constructor({ maxBytes = 256 * 1024 * 1024 }: MemoryCacheOptions = {}) {
    this.#lru = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (v, k) => v.length + k.length || 1 })
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.#lru.get(key)
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    return keys.map((k) => this.#lru.get(k))
  }

  async set(key: string, value: Buffer, ttlMs?: number): Promise<void> {
    this.#lru.set(key, value, ttlMs ? { ttl: ttlMs } : {})
  }

  async setIfAbsent(key: string, value: Buffer): Promise<boolean> {
    if (this.#lru.has(key)) return false
    this.#lru.set(key, value)
    return true
  }

  async delete(...keys: string[]): Promise<number> {
    let n = 0
    for (const key of keys) if (this.#lru.delete(key)) n++
    return n
  }

  async increment(key: string): Promise<number> {
    const next = Number(this.#lru.get(key)?.toString() ?? '0') + 1
    this.#lru.set(key, Buffer.from(String(next)))
    return next
  }

  async close(): Promise<void> {
    this.#lru.clear()
  }
}
