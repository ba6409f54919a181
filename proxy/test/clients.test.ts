import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestProxy, type TestProxy, withClient } from './support/test-proxy.js'

// Client programs run asynchronously: the proxy shares this process's event loop.
const run = promisify(execFile)
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench'

let t: TestProxy
beforeAll(async () => {
  t = await startTestProxy({ poolSize: 4 })
})
afterAll(async () => {
  await t?.close()
})

describe('psql through the proxy', () => {
  it('runs \\d, \\copy in and out, and catalog queries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-psql-'))
    writeFileSync(join(dir, 'in.csv'), Array.from({ length: 500 }, (_, i) => `${i + 1},item ${i + 1}`).join('\n'))
    const script = [
      'CREATE TABLE products (product_id int PRIMARY KEY, name text);',
      `\\copy products FROM '${join(dir, 'in.csv')}' WITH (FORMAT csv)`,
      'SELECT count(*), sum(product_id) FROM products;',
      `\\copy (SELECT product_id FROM products WHERE product_id <= 10 ORDER BY 1) TO '${join(dir, 'out.txt')}'`,
      '\\d products',
      'SHOW TRANSACTION ISOLATION LEVEL;',
      'SELECT current_schemas(true);',
    ].join('\n')
    const { stdout } = await run('psql', [t.url, '-X', '-v', 'ON_ERROR_STOP=1', '-c', script.split('\n')[0] as string])
    expect(stdout).toMatch(/CREATE TABLE/)
    const scriptFile = join(dir, 'script.sql')
    writeFileSync(scriptFile, script.split('\n').slice(1).join('\n'))
    const out = (await run('psql', [t.url, '-X', '-A', '-v', 'ON_ERROR_STOP=1', '-f', scriptFile])).stdout
    expect(out).toMatch(/^COPY 500$/m)
    expect(out).toMatch(/^500\|125250$/m)
    expect(out).toMatch(/product_id.*integer/)
    expect(out).toMatch(/"products_pkey" PRIMARY KEY, btree \(product_id\)/)
    expect(out).toMatch(/^read committed$/m)
    expect(out).toMatch(/\{pg_catalog,public\}/)
    expect(readFileSync(join(dir, 'out.txt'), 'utf8').trim().split('\n')).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i + 1)),
    )
  })
})

describe('pgbench through the proxy (transaction mode)', () => {
  beforeAll(async () => {
    await run(PGBENCH, ['-i', '-s', '1', '-q', t.directUrl])
  })
  // -n: no vacuum/truncate of pgbench_history between runs, so every transaction's delta stays on record.

  // One thread per client: pgbench prepares statements with a blocking call, so a thread that
  // serves several clients would stall the others while one waits for a pooled connection.
  it.each(['simple', 'extended', 'prepared'])(
    'runs -M %s with 8 clients over a pool of 4, with no failed transaction',
    async (mode) => {
      const { stdout } = await run(PGBENCH, ['-n', '-M', mode, '-c', '8', '-j', '8', '-t', '200', t.url])
      expect(stdout).toMatch(/number of transactions actually processed: 1600\/1600/)
      expect(stdout).toMatch(/number of failed transactions: 0 \(0\.000%\)/)
      const balance = await withClient(t.directUrl, (c) =>
        c.query(
          'select (select sum(abalance) from pgbench_accounts) = (select sum(delta) from pgbench_history) as consistent',
        ),
      )
      expect(balance.rows[0].consistent).toBe(true)
    },
  )
})

describe('postgres.js through the proxy', () => {
  it('copies in and out, and pipelines a failing statement between good ones', async () => {
    const sql = postgres(t.url, { max: 1, onnotice: () => {} })
    try {
      await sql`create table events (id int, kind text)`
      const writable = await sql`copy events from stdin`.writable()
      await new Promise<void>((resolve, reject) => {
        writable.on('finish', resolve)
        writable.on('error', reject)
        for (let i = 1; i <= 1000; i++) writable.write(`${i}\t${i % 2 ? 'view' : 'cart'}\n`)
        writable.end()
      })
      expect(await sql`select count(*)::int n, sum(id)::int s from events`).toEqual([{ n: 1000, s: 500500 }])

      const chunks: Buffer[] = []
      const readable = await sql`copy (select id from events where id <= 5 order by id) to stdout`.readable()
      for await (const chunk of readable) chunks.push(chunk as Buffer)
      expect(Buffer.concat(chunks).toString()).toBe('1\n2\n3\n4\n5\n')

      // Issued together on one connection, postgres.js pipelines them.
      const [a, b, c] = await Promise.allSettled([sql`select 1 as a`, sql`select 1/0 as b`, sql`select 3 as c`])
      expect(a).toMatchObject({ status: 'fulfilled', value: [{ a: 1 }] })
      expect(b).toMatchObject({ status: 'rejected', reason: { code: '22012' } })
      expect(c).toMatchObject({ status: 'fulfilled', value: [{ c: 3 }] })
    } finally {
      await sql.end()
    }
  })
})
