import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startTestProxy, type TestProxy, withClient } from './support/test-proxy.js'

let t: TestProxy
let direct: pg.Client
beforeAll(async () => {
  t = await startTestProxy({ cacheStore: 'redis', poolSize: 6 })
  direct = new pg.Client({ connectionString: t.directUrl })
  await direct.connect()
  // The test cluster commits asynchronously; decoding sees a commit once it is flushed, so flush these.
  await direct.query('SET synchronous_commit = on')
  await direct.query(`
    CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL);
    INSERT INTO accounts SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END, 100 FROM generate_series(1, 50) g;
    CREATE VIEW rich AS SELECT id, balance FROM accounts WHERE balance > 150;`)
  await t.refreshCatalog()
})
// The follower also sees writes made through the proxy, a little later: settle it before counting hits.
beforeEach(async () => {
  await t.follower?.poll()
})
afterAll(async () => {
  await direct?.end()
  await t?.close()
})

const outcomes = async (app: string) => {
  await t.settle()
  return t.events.filter((e) => e.applicationName === app).map((e) => e.cache)
}

describe('result cache', () => {
  it('answers a repeated read from the cache, byte for byte what PostgreSQL answered', async () => {
    const sql =
      'select owner, sum(balance)::int as total, count(*)::int as n from accounts group by owner order by owner'
    await withClient(
      t.url,
      async (c) => {
        const first = await c.query(sql)
        const second = await c.query(sql)
        expect(second.rows).toEqual(first.rows)
        expect(second.fields.map((f) => [f.name, f.dataTypeID])).toEqual(
          first.fields.map((f) => [f.name, f.dataTypeID]),
        )
        expect(first.rows).toEqual((await direct.query(sql)).rows)
      },
      { application_name: 'cache-basic' },
    )
    expect(await outcomes('cache-basic')).toEqual(['miss', 'hit'])
  })

  it('answers extended-protocol queries with their parameters (unnamed and named statements, binary results)', async () => {
    const text = 'select id, balance, owner from accounts where id = $1'
    await withClient(
      t.url,
      async (c) => {
        const a1 = await c.query({ text, values: [3] })
        const a2 = await c.query({ text, values: [3] })
        const b = await c.query({ text, values: [4] })
        const n1 = await c.query({ name: 'by_id', text, values: [5] })
        const n2 = await c.query({ name: 'by_id', text, values: [5] })
        // After hits only, the named statement still works when it reaches a server.
        await c.query('begin')
        const n3 = await c.query({ name: 'by_id', text, values: [6] })
        await c.query('commit')
        expect(a2.rows).toEqual(a1.rows)
        expect(a1.rows).toEqual((await direct.query(text, [3])).rows)
        expect(b.rows).toEqual((await direct.query(text, [4])).rows)
        expect(n2.rows).toEqual(n1.rows)
        expect(n1.rows).toEqual((await direct.query(text, [5])).rows)
        expect(n3.rows).toEqual((await direct.query(text, [6])).rows)
      },
      { application_name: 'cache-extended' },
    )
    expect(await outcomes('cache-extended')).toEqual([
      'miss',
      'hit',
      'miss',
      'miss',
      'hit',
      'uncacheable', // begin
      'uncacheable', // inside a transaction
      'uncacheable', // commit
    ])
    const binary = (url: string) =>
      withClient(
        url,
        (c) => c.query({ text: 'select id, balance::int8 as big from accounts where id = $1', values: [9] }),
        {
          binary: true,
        } as pg.ClientConfig,
      )
    const [first, second, truth] = [await binary(t.url), await binary(t.url), await binary(t.directUrl)]
    expect(first.rows).toEqual(truth.rows)
    expect(second.rows).toEqual(truth.rows)
  })

  it('runs concurrent misses for the same key upstream once, and shares the answer', async () => {
    const sql = 'select count(*)::int as n from generate_series(1, 2000000) g where g % 7 = 0'
    const clients = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const c = new pg.Client({ connectionString: t.url, application_name: 'cache-flight' })
        await c.connect()
        return c
      }),
    )
    try {
      const results = await Promise.all(clients.map((c) => c.query(sql)))
      expect(results.map((r) => r.rows[0].n)).toEqual(Array(5).fill(285714))
    } finally {
      await Promise.all(clients.map((c) => c.end()))
    }
    const seen = await outcomes('cache-flight')
    expect(seen.filter((o) => o === 'miss')).toHaveLength(1)
    expect(seen.filter((o) => o === 'hit')).toHaveLength(4)
  })

  it('says why a statement is not cacheable', async () => {
    await withClient(
      t.url,
      async (c) => {
        await c.query('select now()')
        await c.query('select count(*) from pg_class')
        await c.query('select 1 from accounts for update')
        await c.query('select 1; select 2')
      },
      { application_name: 'cache-why' },
    )
    await t.settle()
    const mine = t.events.filter((e) => e.applicationName === 'cache-why')
    expect(mine.map((e) => [e.cache, e.cacheReason])).toEqual([
      ['uncacheable', 'not deterministic: calls now()'],
      ['uncacheable', 'reads pg_catalog.pg_class (system catalogs change without writes)'],
      ['uncacheable', 'not deterministic: FOR UPDATE/SHARE'],
      ['uncacheable', '2 statements in one query'],
      ['uncacheable', '2 statements in one query'],
    ])
  })

  it('never serves a result older than a write made through the proxy, views included', async () => {
    await withClient(
      t.url,
      async (c) => {
        const read = async () => (await c.query('select id, balance from rich order by id')).rows
        expect(await read()).toEqual([])
        expect(await read()).toEqual([])
        await c.query('update accounts set balance = 200 where id = 7')
        expect(await read()).toEqual([{ id: 7, balance: 200 }])
        await withClient(t.url, (w) => w.query('update accounts set balance = 300 where id = 8'))
        expect(await read()).toEqual([
          { id: 7, balance: 200 },
          { id: 8, balance: 300 },
        ])
      },
      { application_name: 'cache-write' },
    )
    expect(await outcomes('cache-write')).toEqual(['miss', 'hit', 'uncacheable', 'miss', 'miss'])
  })

  it('does not serve a read inside a transaction from the cache, and a rolled-back write invalidates nothing', async () => {
    await withClient(
      t.url,
      async (c) => {
        const sql = 'select balance from accounts where id = 20'
        await c.query(sql)
        expect((await c.query(sql)).rows).toEqual([{ balance: 100 }])
        await c.query('begin')
        await c.query('update accounts set balance = 999 where id = 20')
        expect((await c.query(sql)).rows).toEqual([{ balance: 999 }])
        await c.query('rollback')
        expect((await c.query(sql)).rows).toEqual([{ balance: 100 }])
      },
      { application_name: 'cache-tx' },
    )
    const seen = await outcomes('cache-tx')
    expect(seen[0]).toBe('miss')
    expect(seen[1]).toBe('hit')
    expect(seen.at(-1)).toBe('hit')
  })

  it('keys results by session settings: the same query under two time zones gives two entries', async () => {
    const sql = `select '2024-06-01 12:00:00+00'::timestamptz::text as ts`
    const under = (tz: string) =>
      withClient(t.url, async (c) => [(await c.query(sql)).rows[0].ts, (await c.query(sql)).rows[0].ts], {
        options: `-c TimeZone=${tz}`,
        application_name: `cache-tz-${tz.replace('/', '-')}`,
      })
    expect(await under('UTC')).toEqual(['2024-06-01 12:00:00+00', '2024-06-01 12:00:00+00'])
    expect(await under('Asia/Tokyo')).toEqual(['2024-06-01 21:00:00+09', '2024-06-01 21:00:00+09'])
    expect(await outcomes('cache-tz-Asia-Tokyo')).toEqual(['miss', 'hit'])
  })

  it("never serves one role's rows to another", async () => {
    const suffix = randomBytes(3).toString('hex')
    const [alice, bob] = [`alice_${suffix}`, `bob_${suffix}`]
    await direct.query(`
      CREATE TABLE notes (owner text, body text);
      INSERT INTO notes VALUES ('${alice}', 'alice secret'), ('${bob}', 'bob secret');
      ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
      CREATE POLICY mine ON notes USING (owner = current_user);
      CREATE ROLE ${alice} LOGIN PASSWORD 'pw-a'; CREATE ROLE ${bob} LOGIN PASSWORD 'pw-b';
      GRANT SELECT ON notes TO ${alice}, ${bob};`)
    await t.refreshCatalog()
    try {
      const as = (user: string, password: string) => {
        const u = new URL(t.url)
        u.username = user
        u.password = password
        return withClient(u.toString(), async (c) => {
          const a = (await c.query('select body from notes order by body')).rows
          const b = (await c.query('select body from notes order by body')).rows
          return [a, b]
        })
      }
      expect(await as(alice, 'pw-a')).toEqual([[{ body: 'alice secret' }], [{ body: 'alice secret' }]])
      expect(await as(bob, 'pw-b')).toEqual([[{ body: 'bob secret' }], [{ body: 'bob secret' }]])
    } finally {
      await direct.query(`DROP TABLE notes; DROP ROLE ${alice}; DROP ROLE ${bob};`)
    }
  })

  it('passes a randomized differential test: thousands of interleaved reads, proxy writes and direct writes, zero stale reads', async () => {
    const clients = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = new pg.Client({ connectionString: t.url, application_name: 'cache-diff' })
        await c.connect()
        return c
      }),
    )
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff
      return seed % n
    }
    const reads = [
      (k: number) => `select balance from accounts where id = ${k}`,
      (k: number) => `select sum(balance)::int as s from accounts where id <= ${k}`,
      () => 'select owner, sum(balance)::int as s from accounts group by owner order by owner',
      () => 'select id, balance from rich order by id',
    ]
    let stale = 0
    let compared = 0
    try {
      for (let op = 0; op < 2000; op++) {
        const c = clients[rand(clients.length)] as pg.Client
        const k = 1 + rand(10)
        if (rand(10) < 2) {
          await c.query(`update accounts set balance = ${rand(400)} where id = ${k}`)
          continue
        }
        if (rand(40) === 0) {
          // A write that bypasses the proxy, invalidated once the follower has read it from the WAL.
          await direct.query(`update accounts set balance = ${rand(400)} where id = ${k}`)
          await t.follower?.poll()
          continue
        }
        const sql = (reads[rand(reads.length)] as (k: number) => string)(k)
        // Half the reads go through the extended protocol, with the constant as a parameter.
        const param = rand(2) === 0 && /= \d+$/.test(sql)
        const text = param ? sql.replace(/= \d+$/, '= $1') : sql
        const values = param ? [k] : []
        const viaProxy = (await c.query(text, values)).rows
        const truth = (await direct.query(text, values)).rows
        compared++
        if (JSON.stringify(viaProxy) !== JSON.stringify(truth)) stale++
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()))
    }
    await t.settle()
    const hits = t.events.filter((e) => e.applicationName === 'cache-diff' && e.cache === 'hit').length
    expect(compared).toBeGreaterThan(1200)
    expect(stale).toBe(0)
    expect(hits).toBeGreaterThan(100)
  }, 120_000)

  it('follows writes that bypass the proxy, through logical decoding', async () => {
    const lags: number[] = []
    await withClient(t.url, async (c) => {
      const sql = 'select balance from accounts where id = 33'
      for (let i = 0; i < 20; i++) {
        await c.query(sql)
        await c.query(sql) // cached now
        const value = 1000 + i
        await direct.query(`update accounts set balance = ${value} where id = 33`)
        const written = performance.now()
        for (;;) {
          const seen = (await c.query(sql)).rows[0].balance
          if (seen === value) break
          if (performance.now() - written > 10_000) throw new Error(`external write not seen after 10 s (saw ${seen})`)
          await new Promise((r) => setTimeout(r, 5))
        }
        lags.push(performance.now() - written)
      }
    })
    lags.sort((a, b) => a - b)
    // Bounded staleness, not a speed claim: the follower polls every 50 ms here.
    expect(lags.at(-1)).toBeLessThan(5_000)
    expect(t.follower?.lags.length).toBeGreaterThanOrEqual(20)
  }, 120_000)
})
