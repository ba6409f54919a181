import { randomBytes } from 'node:crypto'
import { createLogger, EventBus, type QueryEvent } from '@cairn/core'
import { defineAgent } from '@cairn/plugins'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { queryEvent } from '../../test/support/query-event.js'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { until as waitUntil } from '../../test/support/until.js'
import { type AgentService, startAgentService } from '../src/host/agent-service.js'

let db: TestDatabase
let pool: pg.Pool
let redis: Redis
const stream = `cairn:test-events:${randomBytes(4).toString('hex')}`
beforeAll(async () => {
  db = await createMigratedTestDatabase('scaleout')
  pool = new pg.Pool({ connectionString: db.url, max: 6 })
  redis = new Redis(inject('redisUrl'))
})
afterAll(async () => {
  await redis?.del(stream)
  redis?.disconnect()
  await pool?.end()
  await db?.drop()
})

const log = createLogger({ level: 'silent' })
const event = (fingerprint: string): QueryEvent => queryEvent({ fingerprint })
const until = (test: () => boolean) => waitUntil('the condition', test, { timeoutMs: 15_000, everyMs: 25 })

describe('scale-out', () => {
  it('runs the agents on one leader, which sees every process events; a follower takes over when it goes', async () => {
    const seen: { host: string; fingerprint: string; frozen: boolean }[] = []
    const lockKey = `cairn-test-${randomBytes(4).toString('hex')}`
    const processes = ['a', 'b'].map((name) => ({ name, bus: new EventBus() }))
    const services: AgentService[] = []
    for (const p of processes) {
      services.push(
        await startAgentService({
          bus: p.bus,
          log,
          pool,
          databaseUrl: db.url,
          hostId: p.name,
          statusIntervalMs: 0,
          scaleOut: { redis, stream, lockKey, retryMs: 100 },
          agents: () => [
            defineAgent({
              meta: { name: 'counter', version: '1.0.0' },
              onResult: (e) => void seen.push({ host: p.name, fingerprint: e.fingerprint, frozen: Object.isFrozen(e) }),
            }),
          ],
        }),
      )
    }
    const [a, b] = services as [AgentService, AgentService]
    const [pa, pb] = processes as [(typeof processes)[0], (typeof processes)[0]]
    expect(a.isLeader).toBe(true)
    expect(b.isLeader).toBe(false)
    expect(b.host).toBeUndefined()

    pa.bus.publish('query', event('from-a'))
    pb.bus.publish('query', event('from-b'))
    await until(() => seen.length === 2)
    expect(seen.map((s) => s.host)).toEqual(['a', 'a'])
    expect(seen.map((s) => s.fingerprint).sort()).toEqual(['from-a', 'from-b'])
    expect(seen.every((s) => s.frozen)).toBe(true)

    await a.stop()
    await until(() => b.isLeader)
    pb.bus.publish('query', event('after-failover'))
    await until(() => seen.some((s) => s.fingerprint === 'after-failover'))
    expect(seen.filter((s) => s.fingerprint === 'after-failover').map((s) => s.host)).toEqual(['b'])
    // Nothing was delivered twice.
    expect(seen.filter((s) => s.fingerprint === 'from-a')).toHaveLength(1)
    await b.stop()
  })
})
