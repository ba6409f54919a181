import { isCairnError, type KeyValueCache, MemoryCache, RedisCache } from '@cairn/core'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'

const prefix = `cairn-test-${process.pid}-${Date.now()}:`
const redis = new RedisCache({ url: inject('redisUrl'), keyPrefix: prefix })
const caches: [string, () => Promise<KeyValueCache>][] = [
  ['redis', () => redis.connect()],
  ['memory', async () => new MemoryCache()],
]

afterAll(async () => {
  const keys = await redis.redis.keys(`${prefix}*`)
  if (keys.length) await redis.redis.del(...keys.map((k) => k.slice(prefix.length)))
  await redis.close()
})

describe.each(caches)('%s cache', (kind, open) => {
  it('stores and returns bytes exactly, several at once, and deletes them', async () => {
    const cache = await open()
    expect(cache.kind).toBe(kind)
    const bytes = Buffer.from([0, 1, 2, 255, 0x44, 0])
    await cache.set('a', bytes)
    await cache.set('b', Buffer.from('second'))
    expect(await cache.get('a')).toEqual(bytes)
    expect(await cache.getMany(['a', 'missing', 'b'])).toEqual([bytes, undefined, Buffer.from('second')])
    expect(await cache.delete('a', 'missing')).toBe(1)
    expect(await cache.get('a')).toBeUndefined()
  })

  it('expires an entry after its TTL', async () => {
    const cache = await open()
    await cache.set('ttl', Buffer.from('x'), 50)
    expect(await cache.get('ttl')).toEqual(Buffer.from('x'))
    await new Promise((r) => setTimeout(r, 120))
    expect(await cache.get('ttl')).toBeUndefined()
  })

  it('increments counters atomically', async () => {
    const cache = await open()
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.increment('version:orders')))
    expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })
})

describe('MemoryCache', () => {
  it('evicts least recently used entries beyond its byte budget', async () => {
    const cache = new MemoryCache({ maxBytes: 1000 })
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, Buffer.alloc(100))
    const present = (await cache.getMany(Array.from({ length: 20 }, (_, i) => `k${i}`))).filter(Boolean)
    expect(present.length).toBeLessThan(10)
    expect(await cache.get('k19')).toBeDefined()
    expect(await cache.get('k0')).toBeUndefined()
  })
})

describe('RedisCache', () => {
  it('reports an unreachable server as CAIRN_ERR_REDIS_UNAVAILABLE', async () => {
    const port = await freePort()
    const cache = new RedisCache({ url: `redis://127.0.0.1:${port}` })
    cache.redis.on('error', () => {})
    await expect(cache.connect()).rejects.toSatisfy((err: unknown) => isCairnError(err, 'CAIRN_ERR_REDIS_UNAVAILABLE'))
  })
})
