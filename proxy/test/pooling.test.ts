import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { sqlstateOf, startTestProxy, withClient } from './support/test-proxy.js'

const connected = async (url: string) => {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => {})
  await c.connect()
  return c
}

describe('pool settings', () => {
  it('session mode keeps one server connection, and its settings, for the whole session', async () => {
    const t = await startTestProxy({ poolMode: 'session', poolSize: 2 })
    try {
      await withClient(t.url, async (c) => {
        const first = (await c.query('select pg_backend_pid() as pid')).rows[0].pid
        await c.query(`SET statement_timeout = '4321ms'`)
        for (let i = 0; i < 3; i++) {
          await c.query('BEGIN')
          const r = await c.query(`select pg_backend_pid() as pid, current_setting('statement_timeout') as st`)
          await c.query('COMMIT')
          expect(r.rows[0]).toEqual({ pid: first, st: '4321ms' })
        }
      })
    } finally {
      await t.close()
    }
  })

  it('answers 53300 after the queue timeout when every server connection is busy, and the client goes on', async () => {
    const t = await startTestProxy({ poolSize: 1, queueTimeoutMs: 300 })
    try {
      const holder = await connected(t.url)
      const waiter = await connected(t.url)
      await holder.query('BEGIN')
      await holder.query('select 1')
      expect(await sqlstateOf(waiter.query('select 2'))).toBe('53300')
      await holder.query('COMMIT')
      expect((await waiter.query('select 3 as again')).rows).toEqual([{ again: 3 }])
      await Promise.all([holder.end(), waiter.end()])
    } finally {
      await t.close()
    }
  })

  it('closes server connections idle longer than the idle timeout', async () => {
    const t = await startTestProxy({ poolSize: 3, serverIdleTimeoutMs: 500 })
    try {
      await Promise.all(Array.from({ length: 3 }, () => withClient(t.url, (c) => c.query('select pg_sleep(0.05)'))))
      const pool = t.proxy.pools.pools[0]
      expect(pool?.openConnections).toBeGreaterThan(0)
      // The sweeper runs every second; allow a few rounds on a busy machine.
      for (let i = 0; i < 100 && (pool?.openConnections ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100))
      expect(pool?.openConnections).toBe(0)
      await withClient(t.url, async (c) => expect((await c.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]))
    } finally {
      await t.close()
    }
  })
})
