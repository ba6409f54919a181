import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createLogger, isCairnError } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { BronzeLoader } from '../src/bronze/bronze-loader.js'
import { compileFilePattern, filesSource } from '../src/sources/files-source.js'
import { runSource } from '../src/sources/run-source.js'

let db: TestDatabase
let pool: pg.Pool
let loader: BronzeLoader
let dir: string
const log = createLogger({ level: 'silent' })

beforeAll(async () => {
  db = await createMigratedTestDatabase('sources_files')
  pool = new pg.Pool({ connectionString: db.url })
  loader = new BronzeLoader(pool)
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})
let seq = 0
let instance: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-files-'))
  instance = `t${++seq}`
  return () => rm(dir, { recursive: true, force: true })
})

const run = (config: Record<string, unknown> = {}, extra: Partial<Parameters<typeof runSource>[3]> = {}) =>
  runSource(loader, filesSource, { dir, ...config }, { instance, log, ...extra })

async function bronze(entity: string): Promise<{ payload: unknown; batch_id: string; source_position: string }[]> {
  const { rows } = await pool.query(
    `SELECT payload, batch_id, source_position FROM bronze.${entity} WHERE source = $1 ORDER BY bronze_id`,
    [`files:${instance}`],
  )
  return rows
}

async function checkpoints(): Promise<Map<string, string>> {
  return loader.checkpoints(`files:${instance}`)
}

/** A logger whose JSON lines are collected, to check what was logged. */
function capturingLogger() {
  const lines: { level: number; msg: string; file?: string }[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { log: createLogger({ level: 'warn', format: 'json', destination }), lines }
}

describe('files source', () => {
  it('loads CSV and JSONL files into bronze with every record exactly as parsed, once', async () => {
    await writeFile(
      join(dir, 'customers-0001.csv'),
      '\ufeffcustomer_id,email,city,note\r\n' +
        '1,ann@example.com,Lyon,"likes ""quotes"", commas"\r\n' +
        '2,,Paris,"two\nlines"\r\n' +
        '\r\n' +
        '3,carl@example.com,,\r\n',
    )
    const orders = [
      { order_id: 10, customer_id: 1, total_amount: 12.5, tags: ['a', 'b'], nested: { x: null, y: true } },
      { order_id: 11, customer_id: 2, total_amount: '12.50', status: 'paid' },
      { order_id: 12, customer_id: 3, note: 'ünïcödé ✓ 😀' },
    ]
    await writeFile(
      join(dir, 'orders-0001.jsonl'),
      `${JSON.stringify(orders[0])}\r\n\n   \n${JSON.stringify(orders[1])}\n${JSON.stringify(orders[2])}`,
    )

    const first = await run({ batchSize: 2 })
    expect(first).toEqual({ batches: 4, loaded: 4, skipped: 0, rows: 6 })

    const customers = await bronze('customers')
    expect(customers.map((r) => r.payload)).toEqual([
      { customer_id: '1', email: 'ann@example.com', city: 'Lyon', note: 'likes "quotes", commas' },
      { customer_id: '2', city: 'Paris', note: 'two\nlines' },
      { customer_id: '3', email: 'carl@example.com' },
    ])
    const csvChecksum = (await checkpoints()).get('customers-0001.csv')
    expect(csvChecksum).toMatch(/^[0-9a-f]{64}$/)
    expect(customers.map((r) => [r.batch_id, r.source_position])).toEqual([
      [`files:${instance}:customers-0001.csv:${csvChecksum?.slice(0, 16)}:1`, 'customers-0001.csv:2-4'],
      [`files:${instance}:customers-0001.csv:${csvChecksum?.slice(0, 16)}:1`, 'customers-0001.csv:2-4'],
      [`files:${instance}:customers-0001.csv:${csvChecksum?.slice(0, 16)}:2`, 'customers-0001.csv:6-6'],
    ])
    const jsonl = await bronze('orders')
    expect(jsonl.map((r) => r.payload)).toEqual(orders)
    expect(jsonl.map((r) => r.source_position)).toEqual([
      'orders-0001.jsonl:1-4',
      'orders-0001.jsonl:1-4',
      'orders-0001.jsonl:5-5',
    ])
    expect([...(await checkpoints()).keys()].sort()).toEqual(['customers-0001.csv', 'orders-0001.jsonl'])

    const again = await run({ batchSize: 2 })
    expect(again).toEqual({ batches: 0, loaded: 0, skipped: 0, rows: 0 })
    expect(await bronze('customers')).toHaveLength(3)
    expect(await bronze('orders')).toHaveLength(3)
  })

  it('picks up a new file on the next run, and loads an edited file again as a new version', async () => {
    await writeFile(join(dir, 'products.csv'), 'product_id,price\n1,9.99\n2,5.00\n')
    expect(await run()).toMatchObject({ loaded: 1, rows: 2 })
    const v1 = (await checkpoints()).get('products.csv')

    await writeFile(join(dir, 'products-0002.csv'), 'product_id,price\n3,1.00\n')
    expect(await run()).toEqual({ batches: 1, loaded: 1, skipped: 0, rows: 1 })

    await writeFile(join(dir, 'products.csv'), 'product_id,price\n1,10.99\n2,5.00\n')
    expect(await run()).toEqual({ batches: 1, loaded: 1, skipped: 0, rows: 2 })
    const v2 = (await checkpoints()).get('products.csv')
    expect(v2).not.toBe(v1)

    const rows = await bronze('products')
    expect(rows.map((r) => r.payload)).toEqual([
      { product_id: '1', price: '9.99' },
      { product_id: '2', price: '5.00' },
      { product_id: '3', price: '1.00' },
      { product_id: '1', price: '10.99' },
      { product_id: '2', price: '5.00' },
    ])
    expect(new Set(rows.map((r) => r.batch_id))).toEqual(
      new Set([
        `files:${instance}:products.csv:${v1?.slice(0, 16)}:1`,
        `files:${instance}:products-0002.csv:${(await checkpoints()).get('products-0002.csv')?.slice(0, 16)}:1`,
        `files:${instance}:products.csv:${v2?.slice(0, 16)}:1`,
      ]),
    )
    expect(await run()).toEqual({ batches: 0, loaded: 0, skipped: 0, rows: 0 })
  })

  it('loads the same content under another name as another file', async () => {
    const content = '{"payment_id":1,"amount":3}\n'
    await writeFile(join(dir, 'payments-0001.jsonl'), content)
    await run()
    await writeFile(join(dir, 'payments-0002.jsonl'), content)
    expect(await run()).toMatchObject({ loaded: 1, rows: 1 })
    expect((await bronze('payments')).map((r) => r.payload)).toEqual([
      { payment_id: 1, amount: 3 },
      { payment_id: 1, amount: 3 },
    ])
  })

  it('keeps lines it cannot parse as _unparseable records, with the reason, and goes on', async () => {
    await writeFile(
      join(dir, 'returns.ndjson'),
      [
        '{"return_id":1}',
        '{"return_id":2,',
        '[1,2]',
        '42',
        'null',
        '{"return_id":3,"reason":"a\\u0000b"}',
        '{"return_id":4}',
      ].join('\n'),
    )
    await writeFile(join(dir, 'returns-0002.csv'), 'return_id,reason\n5,damaged\n6,late,extra\n7\n8,ok\n')
    expect(await run()).toMatchObject({ loaded: 2, rows: 11 })
    const rows = (await bronze('returns')).map((r) => r.payload as Record<string, unknown>)
    // Files are read in name order: returns-0002.csv before returns.ndjson.
    expect(rows.map((r) => r._unparseable ?? r)).toEqual([
      { return_id: '5', reason: 'damaged' },
      '6,late,extra',
      '7',
      { return_id: '8', reason: 'ok' },
      { return_id: 1 },
      '{"return_id":2,',
      '[1,2]',
      '42',
      'null',
      '{"return_id":3,"reason":"a\\u0000b"}',
      { return_id: 4 },
    ])
    expect(rows[1]?._error).toBe('row has 3 fields, the header has 2')
    expect(rows[2]?._error).toBe('row has 1 fields, the header has 2')
    expect(rows[5]?._error).toMatch(/^invalid JSON: /)
    expect(rows[6]?._error).toBe('not a JSON object (got an array)')
    expect(rows[7]?._error).toBe('not a JSON object (got number)')
    expect(rows[8]?._error).toBe('not a JSON object (got null)')
    expect(rows[9]?._error).toMatch(/\$\.reason contains a NUL character/)
  })

  it('does not load a CSV file that cannot be parsed, says why, and loads the others', async () => {
    await writeFile(join(dir, 'orders-0001.csv'), 'order_id,status\n1,paid\n2,"shipped\n3,paid\n')
    await writeFile(join(dir, 'orders-0002.csv'), 'order_id,order_id\n1,2\n')
    await writeFile(join(dir, 'orders-0003.csv'), 'order_id,status\n4,paid\n')
    const { log: capture, lines } = capturingLogger()
    expect(await runSource(loader, filesSource, { dir }, { instance, log: capture })).toMatchObject({
      loaded: 1,
      rows: 1,
    })
    expect((await bronze('orders')).map((r) => r.payload)).toEqual([{ order_id: '4', status: 'paid' }])
    const errorsLogged = lines.filter((l) => l.level === 50).map((l) => l.msg)
    expect(errorsLogged).toHaveLength(2)
    expect(errorsLogged[0]).toMatch(/orders-0001\.csv is not valid CSV \(Quote Not Closed/)
    expect(errorsLogged[1]).toMatch(/orders-0002\.csv is not valid CSV \(column "order_id" appears twice/)
    expect([...(await checkpoints()).keys()]).toEqual(['orders-0003.csv'])
  })

  it('skips files whose name gives no entity with a warning, and ignores files the pattern does not match', async () => {
    await writeFile(join(dir, 'Orders Export.csv'), 'order_id\n1\n')
    await writeFile(join(dir, 'readme.txt'), 'not data')
    await writeFile(join(dir, 'customers.csv'), 'customer_id\n1\n')
    const { log: capture, lines } = capturingLogger()
    expect(await runSource(loader, filesSource, { dir }, { instance, log: capture })).toMatchObject({ rows: 1 })
    const warnings = lines.filter((l) => l.level === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ file: 'Orders Export.csv' })
    expect(warnings[0]?.msg).toMatch(/skipping Orders Export\.csv: its name does not match entityFromName/)
  })

  it('reads only the files the pattern matches, and takes the entity from entityFromName', async () => {
    await writeFile(join(dir, 'export_customers_2025.jsonl'), '{"customer_id":1}\n')
    await writeFile(join(dir, 'export_orders_2025.jsonl'), '{"order_id":1}\n')
    await writeFile(join(dir, 'customers.jsonl'), '{"customer_id":2}\n')
    const result = await run({ pattern: 'export_*_2025.{jsonl,csv}', entityFromName: '^export_([a-z]+)_\\d+\\.' })
    expect(result).toMatchObject({ loaded: 2, rows: 2 })
    expect((await bronze('customers')).map((r) => r.payload)).toEqual([{ customer_id: 1 }])
    expect((await bronze('orders')).map((r) => r.payload)).toEqual([{ order_id: 1 }])
    expect(compileFilePattern('/^x.*\\.csv$/i').test('X1.CSV')).toBe(true)
    expect(compileFilePattern('a?.{csv,jsonl}').test('ab.jsonl')).toBe(true)
    expect(compileFilePattern('a?.{csv,jsonl}').test('abc.jsonl')).toBe(false)
    expect(compileFilePattern('*.csv').test('a.csv.tmp')).toBe(false)
  })

  it('loads an empty file as one empty batch that marks it loaded', async () => {
    await writeFile(join(dir, 'order_items.csv'), '')
    await writeFile(join(dir, 'order_items-0002.csv'), 'order_id,line_no\n')
    expect(await run()).toEqual({ batches: 2, loaded: 2, skipped: 0, rows: 0 })
    expect([...(await checkpoints()).keys()].sort()).toEqual(['order_items-0002.csv', 'order_items.csv'])
    expect(await run()).toEqual({ batches: 0, loaded: 0, skipped: 0, rows: 0 })
  })

  it('after a crash in the middle of a file, the next run loads every record exactly once', async () => {
    const events = Array.from({ length: 10 }, (_, i) => ({ event_id: `e${i}`, session_id: 's', n: i }))
    await writeFile(join(dir, 'clickstream_events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n'))
    let seen = 0
    const crash = run(
      { batchSize: 3 },
      {
        onBatch: () => {
          if (++seen === 1) throw new Error('crash after the first batch')
        },
      },
    )
    await expect(crash).rejects.toThrow('crash after the first batch')
    expect((await bronze('clickstream_events')).map((r) => r.payload)).toEqual(events.slice(0, 3))
    expect(await checkpoints()).toEqual(new Map())

    const controller = new AbortController()
    let count = 0
    const aborted = await run(
      { batchSize: 3 },
      {
        signal: controller.signal,
        onBatch: () => {
          if (++count === 2) controller.abort()
        },
      },
    )
    expect(aborted).toEqual({ batches: 2, loaded: 1, skipped: 1, rows: 3 })
    expect(await checkpoints()).toEqual(new Map())

    const rest = await run({ batchSize: 3 })
    expect(rest).toEqual({ batches: 4, loaded: 2, skipped: 2, rows: 4 })
    expect((await bronze('clickstream_events')).map((r) => r.payload)).toEqual(events)
    expect((await checkpoints()).has('clickstream_events.jsonl')).toBe(true)
  })

  it('fails, without marking the file loaded, when a file changes while it is being read', async () => {
    const line = (i: number) => JSON.stringify({ customer_id: i, pad: 'x'.repeat(200) })
    const file = join(dir, 'customers.jsonl')
    await writeFile(file, Array.from({ length: 20_000 }, (_, i) => line(i)).join('\n'))
    let rewritten = false
    const err = await run(
      { batchSize: 1000 },
      {
        onBatch: async () => {
          if (rewritten) return
          rewritten = true
          await writeFile(file, Array.from({ length: 20_000 }, (_, i) => line(i + 1)).join('\n'))
        },
      },
    ).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_ERR_PIPELINE_SOURCE_FAILED')).toBe(true)
    expect((err as Error).message).toMatch(/customers\.jsonl changed while it was being read/)
    expect(await checkpoints()).toEqual(new Map())
  })

  it('refuses an invalid configuration with CAIRN_ERR_CONFIG_INVALID naming the plugin and the problems', async () => {
    const err = await run({ batchSize: 0, entityFromName: '^[a-z]+\\.csv$', colour: 'blue' }).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true)
    expect((err as Error).message).toMatch(/source "files"/)
    expect((err as Error).message).toMatch(/batchSize: /)
    expect((err as Error).message).toMatch(/entityFromName: invalid entityFromName: needs a capture group/)
    expect((err as Error).message).toMatch(/colour/)
    const missing = await runSource(loader, filesSource, {}, { log }).catch((e: unknown) => e)
    expect((missing as Error).message).toMatch(/dir: /)
    const badInstance = await run({}, { instance: 'a:b' }).catch((e: unknown) => e)
    expect(isCairnError(badInstance, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true)
  })

  it('fails with CAIRN_ERR_PIPELINE_SOURCE_FAILED when the directory does not exist', async () => {
    const err = await run({ dir: join(dir, 'missing') }).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_ERR_PIPELINE_SOURCE_FAILED')).toBe(true)
    expect((err as Error).message).toMatch(/cannot list/)
  })
})
