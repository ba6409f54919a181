import pg from 'pg'
import Cursor from 'pg-cursor'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sqlstateOf, startTestProxy, type TestProxy, withClient } from './support/test-proxy.js'

let t: TestProxy
beforeAll(async () => {
  t = await startTestProxy()
  await withClient(t.directUrl, (c) =>
    c.query(`CREATE TABLE orders (order_id int PRIMARY KEY, status text, total numeric);
             INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN 'paid' ELSE 'open' END, g * 1.5 FROM generate_series(1, 1000) g`),
  )
})
afterAll(async () => {
  await t?.close()
})

const withUser = (url: string, user: string, password: string) => {
  const u = new URL(url)
  u.username = user
  u.password = password
  return u.toString()
}

describe('login', () => {
  it('authenticates with SCRAM-SHA-256 and reports the settings drivers check', async () => {
    await withClient(t.url, async (c) => {
      const r = await c.query('select current_user, current_database()')
      expect(r.rows[0]).toEqual({ current_user: 'cairn', current_database: t.db.name })
      const params = (c as unknown as { connectionParameters: unknown }) && c
      expect(params).toBeDefined()
      const s = await c.query(`select current_setting('client_encoding') as enc, current_setting('DateStyle') as ds`)
      expect(s.rows[0].enc).toBe('UTF8')
      expect(s.rows[0].ds).toMatch(/^ISO/)
    })
  })

  it('refuses a wrong password with 28P01, an unknown user the same way, and an unknown database with 3D000', async () => {
    expect(await sqlstateOf(withClient(withUser(t.url, 'cairn', 'wrong'), async () => {}))).toBe('28P01')
    expect(await sqlstateOf(withClient(withUser(t.url, 'nobody', 'x'), async () => {}))).toBe('28P01')
    const noDb = new URL(t.url)
    noDb.pathname = '/no_such_db'
    expect(await sqlstateOf(withClient(noDb.toString(), async () => {}))).toBe('3D000')
  })

  it('applies startup settings (options -c, TimeZone, application_name) exactly as PostgreSQL does', async () => {
    const config = {
      options: '-c search_path=pg_catalog,public -c TimeZone=Asia/Tokyo',
      application_name: 'startup-test',
    }
    const sql = `select current_setting('search_path') sp, current_setting('TimeZone') tz, current_setting('application_name') app, now()::text like '%+09' as tokyo`
    const [viaProxy, direct] = await Promise.all([
      withClient(t.url, (c) => c.query(sql), config),
      withClient(t.directUrl, (c) => c.query(sql), config),
    ])
    expect(viaProxy.rows).toEqual(direct.rows)
    expect(viaProxy.rows[0]).toMatchObject({ tz: 'Asia/Tokyo', app: 'startup-test', tokyo: true })
  })
})

describe('queries', () => {
  it('answers several statements in one simple query, in order', async () => {
    await withClient(t.url, async (c) => {
      const results = (await c.query(
        'select 1 as a; select 2 as b; select count(*)::int as n from orders',
      )) as unknown as pg.QueryResult[]
      expect(results.map((r) => r.rows[0])).toEqual([{ a: 1 }, { b: 2 }, { n: 1000 }])
    })
  })

  it('keeps named prepared statements working across transactions that land on other server connections', async () => {
    // 8 clients over a pool of 3: each transaction may get any server connection.
    const clients = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const c = new pg.Client({ connectionString: t.url })
        await c.connect()
        return c
      }),
    )
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          for (let round = 0; round < 10; round++) {
            await c.query('BEGIN')
            const id = ((i * 10 + round) % 1000) + 1
            const r = await c.query({
              name: 'by_id',
              text: 'select order_id, total from orders where order_id = $1',
              values: [id],
            })
            expect(r.rows.map((row) => [row.order_id, Number(row.total)])).toEqual([[id, id * 1.5]])
            await c.query('COMMIT')
          }
        }),
      )
    } finally {
      await Promise.all(clients.map((c) => c.end()))
    }
  })

  it('returns binary results byte for byte as PostgreSQL does', async () => {
    const query = {
      text: `select $1::int8 as big, 3.5::float8 as f, order_id, '2024-01-02 03:04:05+00'::timestamptz as ts from orders where order_id = $2`,
      values: ['123456789012', 7],
    }
    const run = (url: string) => withClient(url, (c) => c.query(query), { binary: true } as pg.ClientConfig)
    const [viaProxy, direct] = await Promise.all([run(t.url), run(t.directUrl)])
    expect(viaProxy.fields.every((f) => f.format === 'binary')).toBe(true)
    expect(viaProxy.rows).toEqual(direct.rows)
    expect(viaProxy.rows[0]).toMatchObject({ f: 3.5, order_id: 7 })
  })

  it('fetches through a portal with a row limit (PortalSuspended) inside a transaction', async () => {
    await withClient(t.url, async (c) => {
      await c.query('BEGIN')
      const cursor = c.query(new Cursor('select order_id from orders order by order_id'))
      let sum = 0
      let batches = 0
      for (;;) {
        const rows = await cursor.read(100)
        if (rows.length === 0) break
        batches++
        for (const r of rows) sum += r.order_id
      }
      await cursor.close()
      await c.query('COMMIT')
      expect(sum).toBe(500500)
      expect(batches).toBe(10)
    })
  })

  it('passes errors through with their SQLSTATE and keeps the connection usable', async () => {
    await withClient(t.url, async (c) => {
      expect(await sqlstateOf(c.query('select 1/0'))).toBe('22012')
      expect(await sqlstateOf(c.query('select * from no_such_table'))).toBe('42P01')
      expect(await sqlstateOf(c.query({ text: 'select $1::int', values: ['nope'] }))).toBe('22P02')
      expect((await c.query('select 42 as x')).rows).toEqual([{ x: 42 }])
    })
  })

  it('delivers NOTIFY to a LISTENing client', async () => {
    await withClient(t.url, async (listener) => {
      await listener.query('LISTEN order_events')
      const received = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.payload ?? '')))
      await withClient(t.url, (c) => c.query(`NOTIFY order_events, 'order 42 paid'`))
      expect(await received).toBe('order 42 paid')
    })
  })
})

describe('session state in transaction mode', () => {
  it('does not leak SET to other clients', async () => {
    await withClient(t.url, async (a) => {
      await a.query(`SET statement_timeout = '1234ms'`)
      await a.query(`SET application_name = 'leaky'`)
      // More clients than pool connections, so one of them would get A's connection if it were shared.
      await Promise.all(
        Array.from({ length: 6 }, () =>
          withClient(t.url, async (b) => {
            const r = await b.query(
              `select current_setting('statement_timeout') st, current_setting('application_name') app`,
            )
            expect(r.rows[0].st).toBe('0')
            expect(r.rows[0].app).not.toBe('leaky')
          }),
        ),
      )
      const own = await a.query(`select current_setting('statement_timeout') st`)
      expect(own.rows[0].st).toBe('1234ms')
    })
  })

  it("pins a session that asks for its backend pid, so pg_terminate_backend hits only that client's connection", async () => {
    await withClient(t.url, async (a) => {
      const pid = (await a.query('select pg_backend_pid() as pid')).rows[0].pid as number
      const sleeping = a.query('select pg_sleep(20)').catch((err: { code?: string }) => err.code)
      await new Promise((r) => setTimeout(r, 300))
      await withClient(t.url, async (b) => {
        const r = await b.query('select pg_terminate_backend($1) as ok', [pid])
        expect(r.rows[0].ok).toBe(true)
        expect((await b.query('select 1 as still')).rows).toEqual([{ still: 1 }])
      })
      expect(await sleeping).toBe('57P01')
    })
  })
})

describe('cancel and disconnect', () => {
  it("routes a cancel to the client's own backend, never another's", async () => {
    const postgres = (await import('postgres')).default
    const a = postgres(t.url, { max: 1 })
    const b = postgres(t.url, { max: 1 })
    try {
      const qa = a`select pg_sleep(3) as slept`
      const qb = b`select pg_sleep(1.5) as slept`
      const ra = qa.then(
        () => 'done',
        (e: { code?: string }) => e.code,
      )
      const rb = qb.then(
        () => 'done',
        (e: { code?: string }) => e.code,
      )
      await new Promise((r) => setTimeout(r, 300))
      await qa.cancel()
      expect(await ra).toBe('57014')
      expect(await rb).toBe('done')
    } finally {
      await Promise.all([a.end(), b.end()])
    }
  })

  it('cancels the backend query of a client that disconnects mid-query', async () => {
    const c = new pg.Client({ connectionString: t.url, application_name: 'vanishing' })
    c.on('error', () => {}) // its own socket is destroyed below
    await c.connect()
    c.query('select pg_sleep(30) /* vanishing */').catch(() => {})
    await new Promise((r) => setTimeout(r, 300))
    const running = () =>
      withClient(t.directUrl, async (d) => {
        const r = await d.query(
          `select count(*)::int n from pg_stat_activity where query like '%pg_sleep(30) /* vanishing */%' and state = 'active' and pid <> pg_backend_pid()`,
        )
        return r.rows[0].n as number
      })
    expect(await running()).toBe(1)
    ;(c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    const deadline = Date.now() + 3000
    while ((await running()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(await running()).toBe(0)
    // The pool still serves.
    await withClient(t.url, async (d) => expect((await d.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]))
  })
})

describe('telemetry', () => {
  it('publishes one immutable QueryEvent per statement with fingerprint, relations, columns and timing', async () => {
    await withClient(
      t.url,
      async (c) => {
        await c.query(`select status, count(*) from orders where total > 100 group by status order by 1`)
        await c.query(`select status, count(*) from orders where total > 900 group by status order by 1`)
        await c.query('select 1/0').catch(() => {})
        await c.query('show search_path')
      },
      { application_name: 'telemetry-test' },
    )
    await t.settle()
    const mine = t.events.filter((e) => e.applicationName === 'telemetry-test')
    expect(mine).toHaveLength(4)
    // A tag without a count (SHOW) reports the rows that were sent.
    expect(mine[3]).toMatchObject({ kind: 'utility', rows: 1 })
    const [a, b, c] = mine as [(typeof mine)[0], (typeof mine)[0], (typeof mine)[0]]
    expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/)
    expect(b.fingerprint).toBe(a.fingerprint)
    expect(a.normalizedText).toBe('select status, count(*) from orders where total > $1 group by status order by $2')
    expect(a).toMatchObject({
      kind: 'select',
      relationsRead: ['public.orders'],
      deterministic: true,
      rows: 2,
      database: t.db.name,
      user: 'cairn',
    })
    expect(a.columns).toEqual(
      expect.arrayContaining([
        { relation: 'public.orders', column: 'total', role: 'predicate' },
        { relation: 'public.orders', column: 'status', role: 'groupBy' },
        { relation: 'public.orders', column: 'status', role: 'orderBy' },
      ]),
    )
    expect(a.durationMs).toBeGreaterThan(0)
    expect(a.bytesOut).toBeGreaterThan(0)
    expect(c.sqlstate).toBe('22012')
    expect(Object.isFrozen(a)).toBe(true)
  })

  it('keeps the statement as sent, and the bind parameters of an extended-protocol statement', async () => {
    await withClient(
      t.url,
      async (c) => {
        await c.query(`select count(*) from orders where total > 250`)
        await c.query('select count(*) from orders where total > $1 and status = $2 or $3::text is null', [
          '100',
          'paid',
          null,
        ])
      },
      { application_name: 'telemetry-text-test' },
    )
    await t.settle()
    const [simple, extended] = t.events.filter((e) => e.applicationName === 'telemetry-text-test')
    expect(simple?.text).toBe('select count(*) from orders where total > 250')
    expect(simple?.params).toBeUndefined()
    expect(extended?.text).toBe('select count(*) from orders where total > $1 and status = $2 or $3::text is null')
    expect(extended?.params).toEqual(['100', 'paid', null])
  })
})
