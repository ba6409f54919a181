import { createLogger } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { BronzeLoader } from '../src/bronze/bronze-loader.js'
import { generate } from '../src/generator/generate.js'
import { entityNames, resolveGeneratorOptions } from '../src/generator/generator-options.js'
import { generatorSource, optionsHash } from '../src/sources/generator-source.js'
import { runSource } from '../src/sources/run-source.js'

let db: TestDatabase
let pool: pg.Pool
let loader: BronzeLoader
const log = createLogger({ level: 'silent' })

beforeAll(async () => {
  db = await createMigratedTestDatabase('sources_generator')
  pool = new pg.Pool({ connectionString: db.url })
  loader = new BronzeLoader(pool)
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

const options = { orders: 60, days: 20, partDays: 7, chunkSize: 25, seed: 7 }

/** What the generator gives for the options, per entity, as JSON would carry it. */
function expected(): Map<string, unknown[]> {
  const byEntity = new Map<string, unknown[]>()
  for (const chunk of generate(options)) {
    const list = byEntity.get(chunk.entity) ?? []
    for (const r of chunk.records) list.push(JSON.parse(JSON.stringify(r)))
    byEntity.set(chunk.entity, list)
  }
  return byEntity
}

async function bronze(entity: string, instance: string): Promise<unknown[]> {
  const { rows } = await pool.query(`SELECT payload FROM bronze.${entity} WHERE source = $1 ORDER BY bronze_id`, [
    `generator:${instance}`,
  ])
  return rows.map((r) => r.payload)
}

describe('generator source', () => {
  it('loads the generated data set into bronze once, and marks it complete', async () => {
    const want = expected()
    const chunks = [...generate(options)].length
    const result = await runSource(loader, generatorSource, options, { instance: 'g1', log })
    const total = [...want.values()].reduce((n, list) => n + list.length, 0)
    expect(result).toEqual({ batches: chunks, loaded: chunks, skipped: 0, rows: total })
    for (const entity of entityNames) expect(await bronze(entity, 'g1')).toEqual(want.get(entity) ?? [])
    const hash = optionsHash(resolveGeneratorOptions(options))
    expect(await loader.checkpoints('generator:g1')).toEqual(new Map([['generator', `${hash}:complete`]]))
    const { rows } = await pool.query(
      `SELECT batch_id FROM cairn_meta.bronze_batches WHERE source = 'generator:g1' AND entity = 'orders' ORDER BY loaded_at, batch_id LIMIT 1`,
    )
    expect(rows[0].batch_id).toBe(`generator:g1:${hash}:orders:1`)

    // The same data set, its defaults spelled out: nothing to do.
    const again = await runSource(
      loader,
      generatorSource,
      { ...options, start: '2025-01-01', dirt: {} },
      { instance: 'g1', log },
    )
    expect(again).toEqual({ batches: 0, loaded: 0, skipped: 0, rows: 0 })
  })

  it('after a run that stops half way, the next one loads the rest and every record once', async () => {
    const want = expected()
    let seen = 0
    const crash = runSource(loader, generatorSource, options, {
      instance: 'g2',
      log,
      onBatch: () => {
        if (++seen === 3) throw new Error('stopped')
      },
    })
    await expect(crash).rejects.toThrow('stopped')
    expect(await loader.checkpoints('generator:g2')).toEqual(new Map())
    const rest = await runSource(loader, generatorSource, options, { instance: 'g2', log })
    expect(rest.skipped).toBe(3)
    for (const entity of entityNames) expect(await bronze(entity, 'g2')).toEqual(want.get(entity) ?? [])
  })

  it('refuses invalid generator options with CAIRN_ERR_CONFIG_INVALID', async () => {
    await expect(runSource(loader, generatorSource, { orders: 0 }, { log })).rejects.toMatchObject({
      code: 'CAIRN_ERR_CONFIG_INVALID',
      message: expect.stringMatching(/source "generator".*orders: /),
    })
  })
})
