import { createLogger, isCairnError } from '@cairn/core'
import { defineSourcePlugin, type SourcePlugin } from '@cairn/plugins'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { BronzeLoader } from '../src/bronze/bronze-loader.js'
import { builtinSources, createSourceRegistry } from '../src/sources/builtin-sources.js'
import { runSource } from '../src/sources/run-source.js'

const log = createLogger({ level: 'silent' })

/** A source that yields `count` one-record batches, then fails when `failAt` is reached. */
function countingSource(name: string, closed: string[] = []) {
  return defineSourcePlugin({
    meta: { name, version: '0.1.0' },
    configSchema: z.strictObject({ count: z.number().int().min(0), failAt: z.number().int().optional() }),
    create(config, { instance }) {
      return {
        async *read(ctx) {
          for (let i = 1; i <= config.count; i++) {
            if (i === config.failAt) throw new Error(`upstream broke at ${i}`)
            yield {
              id: `${name}:${instance}:${i}`,
              entity: 'counted',
              records: [{ i, seen: ctx.checkpoints.get('last') ?? null }],
              checkpoint: { key: 'last', value: String(i) },
            }
          }
        },
        async close() {
          closed.push(instance)
        },
      }
    },
  })
}

describe('source registry', () => {
  it('holds the built-in sources and gets them by name', () => {
    const registry = createSourceRegistry()
    expect(registry.list().map((p) => p.meta.name)).toEqual(['files', 'generator', 'redis-stream', 'kafka'])
    expect(registry.get('files')).toBe(builtinSources[0])
    const extra = countingSource('counter')
    expect(createSourceRegistry([extra]).get('counter')).toBe(extra)
  })

  it('names the known sources when asked for an unknown one', () => {
    const err = (() => {
      try {
        createSourceRegistry().get('ftp')
      } catch (e) {
        return e
      }
    })()
    expect(isCairnError(err, 'CAIRN_ERR_PIPELINE_UNKNOWN_SOURCE')).toBe(true)
    expect((err as Error).message).toMatch(/"ftp"; known sources are files, generator, redis-stream, kafka/)
  })

  it('refuses a second plugin with the same name, and a plugin with a bad version, at registration', () => {
    expect(() => createSourceRegistry([countingSource('files')])).toThrow(
      expect.objectContaining({
        code: 'CAIRN_ERR_PLUGIN_INVALID',
        message: expect.stringMatching(/"files" \(0\.1\.0\) is registered twice; it is the name of a built-in/),
      }),
    )
    expect(() => createSourceRegistry([countingSource('a'), countingSource('a')])).toThrow(
      expect.objectContaining({ code: 'CAIRN_ERR_PLUGIN_INVALID' }),
    )
    const badVersion = { ...countingSource('b'), meta: { name: 'b', version: '1.0' } } as SourcePlugin
    expect(() => createSourceRegistry([badVersion])).toThrow(
      expect.objectContaining({ code: 'CAIRN_ERR_PLUGIN_INVALID', message: expect.stringMatching(/semver/) }),
    )
    const notAPlugin = { meta: { name: 'c', version: '1.0.0' } } as unknown as SourcePlugin
    expect(() => createSourceRegistry([notAPlugin])).toThrow(
      expect.objectContaining({ code: 'CAIRN_ERR_PLUGIN_INVALID', message: expect.stringMatching(/kind/) }),
    )
  })
})

describe('runSource', () => {
  let db: TestDatabase
  let pool: pg.Pool
  let loader: BronzeLoader
  beforeAll(async () => {
    db = await createMigratedTestDatabase('sources_run')
    pool = new pg.Pool({ connectionString: db.url })
    loader = new BronzeLoader(pool)
  })
  afterAll(async () => {
    await pool?.end()
    await db?.drop()
  })

  it('loads every batch under <plugin>:<instance>, passes stored checkpoints, reports, and closes the source', async () => {
    const closed: string[] = []
    const plugin = countingSource('counter', closed)
    const seen: string[] = []
    const result = await runSource(
      loader,
      plugin,
      { count: 3 },
      {
        instance: 'one',
        log,
        onBatch: (batch, r) => {
          seen.push(`${batch.id}:${r.loaded}`)
        },
      },
    )
    expect(result).toEqual({ batches: 3, loaded: 3, skipped: 0, rows: 3 })
    expect(seen).toEqual(['counter:one:1:true', 'counter:one:2:true', 'counter:one:3:true'])
    expect(closed).toEqual(['one'])
    expect(await loader.checkpoints('counter:one')).toEqual(new Map([['last', '3']]))

    const again = await runSource(loader, plugin, { count: 4 }, { instance: 'one', log })
    expect(again).toEqual({ batches: 4, loaded: 1, skipped: 3, rows: 1 })
    const { rows } = await pool.query(
      `SELECT payload FROM bronze.counted WHERE source = 'counter:one' ORDER BY bronze_id`,
    )
    expect(rows.map((r) => r.payload)).toEqual([
      { i: 1, seen: null },
      { i: 2, seen: null },
      { i: 3, seen: null },
      { i: 4, seen: '3' },
    ])
    expect(await runSource(loader, plugin, { count: 1 }, { log })).toMatchObject({ loaded: 1 })
    expect(await loader.checkpoints('counter:default')).toEqual(new Map([['last', '1']]))
  })

  it('turns a failure of the source into CAIRN_ERR_PIPELINE_SOURCE_FAILED, keeps what was committed, and closes it', async () => {
    const closed: string[] = []
    const err = await runSource(
      loader,
      countingSource('breaking', closed),
      { count: 5, failAt: 3 },
      {
        instance: 'two',
        log,
      },
    ).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_ERR_PIPELINE_SOURCE_FAILED')).toBe(true)
    expect((err as Error).message).toMatch(/breaking:two: upstream broke at 3/)
    expect(closed).toEqual(['two'])
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM bronze.counted WHERE source = 'breaking:two'`)
    expect(rows[0].n).toBe(2)
  })

  it('refuses a configuration the plugin schema rejects, with the zod issues as the cause', async () => {
    const err = await runSource(loader, countingSource('counter'), { count: -1, extra: true }, { log }).catch(
      (e: unknown) => e,
    )
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true)
    expect((err as Error).message).toMatch(/source "counter" \(instance default\): count: .*; \(config\): .*extra/)
    expect((err as Error & { cause: z.ZodError }).cause.issues).toHaveLength(2)
  })
})
