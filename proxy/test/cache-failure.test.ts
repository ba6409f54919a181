import { type ChildProcess, spawn } from 'node:child_process'
import { RedisCache } from '@cairn/core'
import { decodeEntry, encodeEntry } from '@cairn/proxy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'
import { startTestProxy, type TestProxy } from './support/test-proxy.js'

/** A Redis of this test's own, so killing it disturbs nothing else. */
function startRedis(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ])
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) resolve(child)
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)))
  })
}

let port: number
let redis: ChildProcess
let t: TestProxy
let direct: pg.Client
beforeAll(async () => {
  port = await freePort()
  redis = await startRedis(port)
  const store = await new RedisCache({ url: `redis://127.0.0.1:${port}`, failFastMs: 100 }).connect()
  t = await startTestProxy({ cacheStore: store })
  direct = new pg.Client({ connectionString: t.directUrl })
  await direct.connect()
  await direct.query(
    `CREATE TABLE items (id int PRIMARY KEY, price int); INSERT INTO items SELECT g, g * 10 FROM generate_series(1, 20) g`,
  )
  await t.refreshCatalog()
})
afterAll(async () => {
  redis?.kill('SIGKILL')
  await direct?.end()
  await t?.close()
})

describe('result cache when Redis fails', () => {
  it('answers every query from PostgreSQL while Redis is gone, and caches again when it is back', async () => {
    const c = new pg.Client({ connectionString: t.url, application_name: 'cache-failure' })
    await c.connect()
    let errors = 0
    let wrong = 0
    const run = async (n: number, writes = true) => {
      for (let i = 0; i < n; i++) {
        const sql = `select id, price from items where id = ${1 + (i % 5)}`
        try {
          const got = (await c.query(sql)).rows
          if (JSON.stringify(got) !== JSON.stringify((await direct.query(sql)).rows)) wrong++
        } catch {
          errors++
        }
        if (writes && i % 7 === 0)
          await c.query(`update items set price = price + 1 where id = ${1 + (i % 5)}`).catch(() => errors++)
      }
    }
    await run(60)
    redis.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 100))
    await run(60)
    redis = await startRedis(port)
    // ioredis reconnects on its own (backoff up to 1 s); keep the workload going meanwhile.
    for (let i = 0; i < 40; i++) {
      await run(5, false)
      await new Promise((r) => setTimeout(r, 50))
    }
    await c.end()
    await t.settle()
    const outcomes = t.events.filter((e) => e.applicationName === 'cache-failure').map((e) => e.cache)
    const firstBypass = outcomes.indexOf('bypass')
    expect(errors).toBe(0)
    expect(wrong).toBe(0)
    expect(firstBypass).toBeGreaterThan(0)
    expect(outcomes.slice(0, firstBypass)).toContain('hit')
    expect(outcomes.slice(firstBypass).filter((o) => o === 'bypass').length).toBeGreaterThan(10)
    // Back in service after Redis returned.
    expect(outcomes.slice(outcomes.lastIndexOf('bypass'))).toContain('hit')
  }, 120_000)
})

describe('cache entries', () => {
  const entry = { versions: [12345, 678], rows: 2, body: Buffer.from('T...D...D...C...') }

  it('round-trip', () => {
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry)
  })

  it('treat a truncated or corrupted entry as a miss, never as an answer', () => {
    const bytes = encodeEntry(entry)
    for (let cut = 0; cut < bytes.length; cut++) expect(decodeEntry(bytes.subarray(0, cut))).toBeUndefined()
    for (let i = 0; i < bytes.length; i++) {
      const flipped = Buffer.from(bytes)
      flipped[i] = (flipped[i] as number) ^ 0x40
      const decoded = decodeEntry(flipped)
      // A flip in a version or the row count decodes, but then no longer matches the live versions; anything else is refused.
      if (decoded) expect(decoded.body).toEqual(entry.body)
    }
  })
})
