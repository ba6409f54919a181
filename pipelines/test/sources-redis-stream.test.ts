import { randomBytes } from 'node:crypto'
import { createLogger, isCairnError } from '@cairn/core'
import type { SourceBatch } from '@cairn/plugins'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { BronzeLoader } from '../src/bronze/bronze-loader.js'
import { redisStreamSource } from '../src/sources/redis-stream-source.js'
import { runSource } from '../src/sources/run-source.js'

let db: TestDatabase
let pool: pg.Pool
let loader: BronzeLoader
let redis: Redis
const log = createLogger({ level: 'silent' })

beforeAll(async () => {
  db = await createMigratedTestDatabase('sources_redis')
  pool = new pg.Pool({ connectionString: db.url })
  loader = new BronzeLoader(pool)
  redis = new Redis(inject('redisUrl'))
})
afterAll(async () => {
  await redis?.quit()
  await pool?.end()
  await db?.drop()
})

let tag: string
let instance: string
const keys: string[] = []
beforeEach(() => {
  tag = randomBytes(4).toString('hex')
  instance = `t${tag}`
})
afterEach(async () => {
  if (keys.length > 0) await redis.del(...keys.splice(0))
})

function streamKey(name: string): string {
  const key = `test:${tag}:${name}`
  keys.push(key)
  return key
}

async function add(key: string, records: readonly unknown[]): Promise<string[]> {
  const pipeline = redis.multi()
  for (const r of records) pipeline.xadd(key, '*', 'payload', JSON.stringify(r))
  return ((await pipeline.exec()) ?? []).map(([err, id]) => {
    if (err) throw err
    return id as string
  })
}

async function bronze(entity: string): Promise<unknown[]> {
  const { rows } = await pool.query(`SELECT payload FROM bronze.${entity} WHERE source = $1 ORDER BY bronze_id`, [
    `redis-stream:${instance}`,
  ])
  return rows.map((r) => r.payload)
}

async function pendingCount(key: string, group = 'cairn'): Promise<number> {
  const [count] = (await redis.xpending(key, group)) as [number]
  return count
}

const orders = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ order_id: from + i, status: 'paid', total_amount: (from + i) * 1.5 }))

/** Reads the first batch of a fresh source and stops there, as a process that dies would. */
async function readOneBatchAndDie(config: Record<string, unknown>): Promise<SourceBatch> {
  const parsed = redisStreamSource.configSchema.parse(config)
  const source = redisStreamSource.create(parsed, { log, instance })
  const iterator = source
    .read({ log, signal: new AbortController().signal, checkpoints: new Map() })
    [Symbol.asyncIterator]()
  const first = await iterator.next()
  await iterator.return?.()
  await source.close?.()
  if (first.done) throw new Error('the source yielded nothing')
  return first.value
}

describe('redis-stream source', () => {
  it('loads every entry into bronze once, acknowledges them, and reads only new entries on the next run', async () => {
    const key = streamKey('orders')
    const records = orders(1, 2500)
    await add(key, records)
    await redis.xadd(key, '*', 'data', 'no payload field')
    await redis.xadd(key, '*', 'payload', '{"order_id": 9,')
    await redis.xadd(key, '*', 'payload', '"just a string"')
    const config = { url: inject('redisUrl'), streams: { orders: key }, blockMs: 10 }

    const batches: SourceBatch[] = []
    const result = await runSource(loader, redisStreamSource, config, {
      instance,
      log,
      onBatch: (b) => {
        batches.push(b)
      },
    })
    expect(result).toEqual({ batches: 3, loaded: 3, skipped: 0, rows: 2503 })
    const rows = (await bronze('orders')) as Record<string, unknown>[]
    expect(rows.slice(0, 2500)).toEqual(records)
    expect(rows.slice(2500)).toEqual([
      { _unparseable: '{"data":"no payload field"}', _error: 'stream entry has no "payload" field' },
      { _unparseable: '{"order_id": 9,', _error: expect.stringMatching(/^invalid JSON: /) },
      { _unparseable: '"just a string"', _error: 'not a JSON object (got string)' },
    ])
    const ids = (await redis.xrange(key, '-', '+')).map(([id]) => id)
    expect(batches.map((b) => b.id)).toEqual([
      `redis-stream:${instance}:${key}:${ids[0]}:${ids[999]}`,
      `redis-stream:${instance}:${key}:${ids[1000]}:${ids[1999]}`,
      `redis-stream:${instance}:${key}:${ids[2000]}:${ids[2502]}`,
    ])
    expect(await pendingCount(key)).toBe(0)

    expect(await runSource(loader, redisStreamSource, config, { instance, log })).toEqual({
      batches: 0,
      loaded: 0,
      skipped: 0,
      rows: 0,
    })
    const more = orders(3001, 5)
    await add(key, more)
    expect(await runSource(loader, redisStreamSource, config, { instance, log })).toMatchObject({ loaded: 1, rows: 5 })
    expect((await bronze('orders')).slice(2503)).toEqual(more)
    expect(await pendingCount(key)).toBe(0)
  })

  it('redelivers a batch read but never acknowledged, and it is in bronze once', async () => {
    const key = streamKey('customers')
    const records = Array.from({ length: 25 }, (_, i) => ({ customer_id: i + 1, email: `c${i}@example.com` }))
    await add(key, records)
    const config = {
      url: inject('redisUrl'),
      streams: { customers: key },
      consumer: 'worker-1',
      batchSize: 10,
      blockMs: 10,
    }

    const lost = await readOneBatchAndDie(config)
    expect(lost.records).toEqual(records.slice(0, 10))
    expect(await pendingCount(key)).toBe(10)
    expect(await bronze('customers')).toEqual([])

    const ids: string[] = []
    const result = await runSource(loader, redisStreamSource, config, {
      instance,
      log,
      onBatch: (b) => {
        ids.push(b.id)
      },
    })
    expect(result).toEqual({ batches: 3, loaded: 3, skipped: 0, rows: 25 })
    expect(ids[0]).toBe(lost.id)
    expect(await bronze('customers')).toEqual(records)
    expect(await pendingCount(key)).toBe(0)
  })

  it('after a crash between the bronze commit and the XACK, the redelivered batch is not loaded again', async () => {
    const key = streamKey('payments')
    const records = Array.from({ length: 15 }, (_, i) => ({ payment_id: i + 1, amount: i }))
    await add(key, records)
    const config = {
      url: inject('redisUrl'),
      streams: { payments: key },
      consumer: 'worker-1',
      batchSize: 10,
      blockMs: 10,
    }

    const committed = await readOneBatchAndDie(config)
    const { ack: _ack, ...withoutAck } = committed
    expect(await loader.load(`redis-stream:${instance}`, withoutAck)).toMatchObject({ loaded: true, rows: 10 })
    expect(await pendingCount(key)).toBe(10)

    const result = await runSource(loader, redisStreamSource, config, { instance, log })
    expect(result).toEqual({ batches: 2, loaded: 1, skipped: 1, rows: 5 })
    expect(await bronze('payments')).toEqual(records)
    expect(await pendingCount(key)).toBe(0)
  })

  it('takes over the pending entries of a consumer that died, without loading them twice', async () => {
    const key = streamKey('returns')
    const records = Array.from({ length: 12 }, (_, i) => ({ return_id: i + 1 }))
    await add(key, records)
    const base = { url: inject('redisUrl'), streams: { returns: key }, batchSize: 5, blockMs: 10 }

    const committed = await readOneBatchAndDie({ ...base, consumer: 'died-after-commit' })
    const { ack: _ack, ...withoutAck } = committed
    await loader.load(`redis-stream:${instance}`, withoutAck)
    const lost = await readOneBatchAndDie({ ...base, consumer: 'died-before-load' })
    expect(await pendingCount(key)).toBe(10)

    const ids: string[] = []
    const result = await runSource(
      loader,
      redisStreamSource,
      { ...base, consumer: 'survivor', claimIdleMs: 0 },
      {
        instance,
        log,
        onBatch: (b) => {
          ids.push(b.id)
        },
      },
    )
    expect(result).toEqual({ batches: 3, loaded: 2, skipped: 1, rows: 7 })
    expect(ids.slice(0, 2)).toEqual([committed.id, lost.id])
    expect(await bronze('returns')).toEqual(records)
    expect(await pendingCount(key)).toBe(0)
  })

  it('leaves a busy consumer its pending entries while they are not idle for claimIdleMs', async () => {
    const key = streamKey('products')
    await add(key, [{ product_id: 1 }, { product_id: 2 }])
    const base = { url: inject('redisUrl'), streams: { products: key }, blockMs: 10 }
    await readOneBatchAndDie({ ...base, consumer: 'busy' })
    const result = await runSource(
      loader,
      redisStreamSource,
      { ...base, consumer: 'other', claimIdleMs: 60_000 },
      {
        instance,
        log,
      },
    )
    expect(result).toEqual({ batches: 0, loaded: 0, skipped: 0, rows: 0 })
    expect(await pendingCount(key)).toBe(2)
  })

  it('reads entities from cairn:ingest:<entity>, including entries added before the group existed', async () => {
    const entity = `rs_${tag}`
    const key = `cairn:ingest:${entity}`
    keys.push(key)
    await add(key, [{ event_id: 'a' }, { event_id: 'b' }])
    const result = await runSource(
      loader,
      redisStreamSource,
      { url: inject('redisUrl'), streams: [entity], blockMs: 10 },
      { instance, log },
    )
    expect(result).toMatchObject({ loaded: 1, rows: 2 })
    expect(await bronze(entity)).toEqual([{ event_id: 'a' }, { event_id: 'b' }])
  })

  it('with follow: true keeps reading new entries until the signal aborts', async () => {
    const a = streamKey('orders')
    const b = streamKey('customers')
    const controller = new AbortController()
    let rows = 0
    const running = runSource(
      loader,
      redisStreamSource,
      { url: inject('redisUrl'), streams: { orders: a, customers: b }, follow: true, blockMs: 20 },
      {
        instance,
        log,
        signal: controller.signal,
        onBatch: (_batch, result) => {
          rows += result.rows
          if (rows === 3) controller.abort()
        },
      },
    )
    await new Promise((resolve) => setTimeout(resolve, 150))
    await add(a, [{ order_id: 1 }, { order_id: 2 }])
    await new Promise((resolve) => setTimeout(resolve, 150))
    await add(b, [{ customer_id: 7 }])
    expect(await running).toMatchObject({ loaded: 2, rows: 3 })
    expect(await bronze('orders')).toEqual([{ order_id: 1 }, { order_id: 2 }])
    expect(await bronze('customers')).toEqual([{ customer_id: 7 }])
  })

  it('refuses invalid configurations and reports an unreachable Redis with a coded error', async () => {
    const invalid = await runSource(
      loader,
      redisStreamSource,
      { url: 'http://x', streams: { Orders: 'k', orders: 'k' }, batchSize: 0 },
      { log },
    ).catch((e: unknown) => e)
    expect(isCairnError(invalid, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true)
    expect((invalid as Error).message).toMatch(/source "redis-stream".*url: .*batchSize: /)
    const sameKey = redisStreamSource.configSchema.safeParse({ url: 'redis://x', streams: { a: 'k', b: 'k' } })
    expect(sameKey.success).toBe(false)
    const list = redisStreamSource.configSchema.parse({ url: 'redis://x', streams: ['orders'] })
    expect(list).toMatchObject({
      streams: { orders: 'cairn:ingest:orders' },
      group: 'cairn',
      batchSize: 1000,
      blockMs: 100,
    })
    expect(list.consumer).toMatch(/-\d+$/)

    const down = await runSource(
      loader,
      redisStreamSource,
      { url: 'redis://127.0.0.1:1', streams: ['orders'] },
      { instance, log },
    ).catch((e: unknown) => e)
    expect(isCairnError(down, 'CAIRN_ERR_REDIS_UNAVAILABLE')).toBe(true)
  })
})
