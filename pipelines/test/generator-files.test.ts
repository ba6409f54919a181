import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { csvField, csvRow } from '../src/generator/csv-row.js'
import { generate } from '../src/generator/generate.js'
import { type EntityName, entityNames } from '../src/generator/generator-options.js'
import { csvColumns } from '../src/generator/raw-record.js'
import { writeFiles } from '../src/generator/write-files.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-generator-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const options = { orders: 3000, days: 90, partDays: 30, seed: 9, dirt: { schema_drift_renamed: 0.05 } }

/** The generated records per entity, as JSON carries them. */
function expected(): Record<EntityName, Record<string, unknown>[]> {
  const out = Object.fromEntries(entityNames.map((e) => [e, []])) as unknown as Record<
    EntityName,
    Record<string, unknown>[]
  >
  for (const chunk of generate(options))
    for (const r of chunk.records) out[chunk.entity].push(JSON.parse(JSON.stringify(r)))
  return out
}

describe('csvField', () => {
  it('quotes commas, quotes, line breaks and outer white space, and leaves the rest as is', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    expect(csvField(' padded ')).toBe('" padded "')
    expect(csvField(12.5)).toBe('12.5')
    expect(csvField(null)).toBe('')
    expect(csvField(undefined)).toBe('')
    expect(csvRow({ b: 2, a: 'x,y' }, ['a', 'missing', 'b'])).toBe('"x,y",,2')
  })
})

describe('writeFiles', () => {
  it('writes one JSONL file per entity and part, holding exactly the generated records', async () => {
    const out = join(dir, 'jsonl')
    const result = await writeFiles(options, out, { format: 'jsonl' })
    expect(result.parts).toBe(3)
    expect(result.ms).toBeGreaterThanOrEqual(0)
    const names = (await readdir(out)).sort()
    expect(names).toEqual(result.files.map((f) => basename(f)).sort())
    expect(names).toContain('orders-0000.jsonl')
    expect(names).toContain('orders-0002.jsonl')
    expect(names.every((n) => /^[a-z_]+-\d{4}\.jsonl$/.test(n))).toBe(true)
    const want = expected()
    for (const entity of entityNames) {
      const files = names.filter((n) => n.startsWith(`${entity}-`))
      const records: unknown[] = []
      for (const name of files) {
        const text = await readFile(join(out, name), 'utf8')
        for (const line of text.split('\n')) if (line) records.push(JSON.parse(line))
      }
      expect(records.length, entity).toBe(result.records[entity])
      expect(records, entity).toEqual(want[entity])
    }
  })

  it('writes CSV with the union header, drift fields in their own columns, empty cells for absent fields', async () => {
    const out = join(dir, 'csv')
    const result = await writeFiles(options, out, { format: 'csv', parts: 'single' })
    expect((await readdir(out)).sort()).toEqual(entityNames.map((e) => `${e}.csv`).sort())
    const want = expected()
    for (const entity of entityNames) {
      const text = await readFile(join(out, `${entity}.csv`), 'utf8')
      const rows: string[][] = parse(text)
      const header = rows[0] as string[]
      expect(header).toEqual(csvColumns(entity))
      expect(rows.length - 1, entity).toBe(result.records[entity])
      rows.slice(1).forEach((row, i) => {
        const record = want[entity][i] as Record<string, unknown>
        const cells = header.map((column) => {
          const value = record[column]
          return value === null || value === undefined ? '' : String(value)
        })
        expect(row).toEqual(cells)
      })
    }
    const renamed = (result.dirt.orders.schema_drift_renamed ?? 0) + (result.dirt.customers.schema_drift_renamed ?? 0)
    expect(renamed).toBeGreaterThan(10)
    const orders: string[][] = parse(await readFile(join(out, 'orders.csv'), 'utf8'))
    const amountTotal = (orders[0] as string[]).indexOf('amount_total')
    const totalAmount = (orders[0] as string[]).indexOf('total_amount')
    const drifted = orders.slice(1).filter((row) => row[amountTotal] !== '')
    expect(drifted.length).toBe(result.dirt.orders.schema_drift_renamed)
    expect(drifted.every((row) => row[totalAmount] === '')).toBe(true)
  })

  it('fails when the directory cannot be created', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    await expect(writeFiles({ orders: 10 }, join(file, 'sub'), { format: 'csv' })).rejects.toThrow()
  })
})
