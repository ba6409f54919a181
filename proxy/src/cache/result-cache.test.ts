import { createLogger, MemoryCache } from '@cairn/core'
import { describe, expect, it } from 'vitest'
import { ResultCache } from './result-cache.js'

const log = createLogger({ level: 'silent' })
const entry = (versions: readonly number[]) => ({ versions, rows: 1, body: Buffer.from('T D C') })
const settle = () => new Promise((r) => setTimeout(r, 10))

async function miss(cache: ResultCache, key: string, relations: string[]) {
  const lookup = await cache.lookup(key, relations)
  if (lookup.kind !== 'miss' || !lookup.versions) throw new Error(`expected a miss with versions, got ${lookup.kind}`)
  return lookup.versions
}

describe('ResultCache', () => {
  it('stores on a miss, hits at the same versions, and misses after the relation is invalidated', async () => {
    const cache = new ResultCache({ store: new MemoryCache(), ttlMs: 60_000, maxEntryBytes: 1024, log })
    const versions = await miss(cache, 'k', ['public.t'])
    cache.beginFill('k', ['public.t'])(entry(versions), 5)
    await settle()
    expect((await cache.lookup('k', ['public.t'])).kind).toBe('hit')
    await cache.bump(['public.t'], 'proxy')
    expect((await cache.lookup('k', ['public.t'])).kind).toBe('miss')
  })

  it('admits by the hook: by default what cost at least admitMs, or repeats', async () => {
    const cache = new ResultCache({ store: new MemoryCache(), ttlMs: 60_000, maxEntryBytes: 1024, admitMs: 10, log })
    let versions = await miss(cache, 'cheap', ['public.t'])
    cache.beginFill('cheap', ['public.t'])(entry(versions), 1)
    await settle()
    expect((await cache.lookup('cheap', ['public.t'])).kind).toBe('miss') // cheap and new: not stored
    versions = await miss(cache, 'cheap', ['public.t'])
    cache.beginFill('cheap', ['public.t'])(entry(versions), 1)
    await settle()
    expect((await cache.lookup('cheap', ['public.t'])).kind).toBe('hit') // it repeats: stored
    versions = await miss(cache, 'costly', ['public.t'])
    cache.beginFill('costly', ['public.t'])(entry(versions), 50)
    await settle()
    expect((await cache.lookup('costly', ['public.t'])).kind).toBe('hit')

    const never = new ResultCache({
      store: new MemoryCache(),
      ttlMs: 60_000,
      maxEntryBytes: 1024,
      admit: () => false,
      log,
    })
    versions = await miss(never, 'k', ['public.t'])
    never.beginFill('k', ['public.t'])(entry(versions), 500)
    await settle()
    expect((await never.lookup('k', ['public.t'])).kind).toBe('miss')
  })

  it('expires entries by the smallest TTL of the relations they read', async () => {
    const cache = new ResultCache({
      store: new MemoryCache(),
      ttlMs: 60_000,
      ttlByRelation: { gold: 30, 'silver.orders': 60_000 },
      maxEntryBytes: 1024,
      log,
    })
    const versions = await miss(cache, 'k', ['gold.daily_sales', 'silver.orders'])
    cache.beginFill('k', ['gold.daily_sales', 'silver.orders'])(entry(versions), 5)
    await settle()
    expect((await cache.lookup('k', ['gold.daily_sales', 'silver.orders'])).kind).toBe('hit')
    await new Promise((r) => setTimeout(r, 60))
    expect((await cache.lookup('k', ['gold.daily_sales', 'silver.orders'])).kind).toBe('miss')
  })

  it('does not store a result larger than the limit', async () => {
    const cache = new ResultCache({ store: new MemoryCache(), ttlMs: 60_000, maxEntryBytes: 4, log })
    const versions = await miss(cache, 'k', ['public.t'])
    cache.beginFill('k', ['public.t'])(entry(versions), 50)
    await settle()
    expect((await cache.lookup('k', ['public.t'])).kind).toBe('miss')
  })
})
