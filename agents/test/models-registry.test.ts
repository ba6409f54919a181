import { isCairnError } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { readOnlyDb } from '../src/host/read-only-db.js'
import { exportOnnx } from '../src/latency/export-onnx.js'
import { trainGradientBoostedTrees } from '../src/latency/gradient-boosted-trees.js'
import { LatencyPredictor } from '../src/latency/latency-predictor.js'
import { type LatencySample, LatencySampleStore } from '../src/latency/latency-sample-store.js'
import { planFeatureNames } from '../src/latency/plan-features.js'
import { activateModel, listModels, trainModelNow } from '../src/models/model-commands.js'
import { ModelRegistry } from '../src/models/model-registry.js'

let db: TestDatabase
let pool: pg.Pool
const F = planFeatureNames.length

/** A small real model whose prediction is the constant `logMs` plus a little structure. */
function tinyModel(logMs: number): Uint8Array {
  const rows = Array.from({ length: 40 }, (_, i) => planFeatureNames.map((_, f) => (i * (f + 1)) % 7))
  const model = trainGradientBoostedTrees(
    rows,
    rows.map((r) => logMs + 0.01 * (r[0] as number)),
    { trees: 5 },
  )
  return exportOnnx(model, { featureNames: planFeatureNames })
}

/** Samples whose latency follows the first feature (ln total cost), with a fixed pattern of noise. */
function samples(count: number, start = Date.parse('2024-06-01T00:00:00Z')): LatencySample[] {
  return Array.from({ length: count }, (_, i) => {
    const cost = (i % 37) / 3
    const features = planFeatureNames.map((name, f) => (f === 0 ? cost : name === 'cluster_id' ? -1 : (i + f) % 3))
    return {
      at: new Date(start + i * 1000),
      fingerprint: `fp${i % 5}`,
      features,
      actualMs: Math.exp(-1 + 0.5 * cost) * (1 + 0.1 * ((i % 3) - 1)),
      planHash: `hash${i % 5}`,
      planShape: 'Seq Scan silver.orders',
    }
  })
}

beforeAll(async () => {
  db = await createMigratedTestDatabase('models_registry')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
})

afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

describe('model registry', () => {
  it('numbers versions per name, keeps every one, and keeps at most one active', async () => {
    const registry = new ModelRegistry(pool)
    const v1 = await registry.register({
      name: 'latency',
      algorithm: 'gradient-boosted-trees',
      featureNames: planFeatureNames,
      trainedFrom: new Date('2024-06-01T00:00:00Z'),
      trainedTo: new Date('2024-06-02T00:00:00Z'),
      sampleCount: 120,
      metrics: { heldOut: { medianQError: 1.4, p90QError: 2.5 } },
      onnx: tinyModel(0),
    })
    const v2 = await registry.register({
      name: 'latency',
      algorithm: 'gradient-boosted-trees',
      featureNames: planFeatureNames,
      onnx: tinyModel(1),
    })
    expect([v1.version, v2.version]).toEqual([1, 2])
    expect(v1).toMatchObject({ active: false, sampleCount: 120, output: 'ln_ms', featureNames: [...planFeatureNames] })
    expect(v1.metrics).toEqual({ heldOut: { medianQError: 1.4, p90QError: 2.5 } })
    expect(v1.sizeBytes).toBeGreaterThan(100)
    expect(await registry.activeVersion('latency')).toBeUndefined()
    expect(await registry.loadActive('latency')).toBeUndefined()

    await registry.activate('latency', 1)
    expect(await registry.activeVersion('latency')).toBe(1)
    const swapped = await activateModel(pool, 'latency', 2)
    expect(swapped).toMatchObject({ version: 2, active: true })
    expect((await listModels(pool, 'latency')).map((m) => [m.version, m.active])).toEqual([
      [2, true],
      [1, false],
    ])
    const active = await registry.loadActive('latency')
    expect(active?.version).toBe(2)
    expect(Buffer.from(active?.onnx ?? []).equals(Buffer.from(tinyModel(1)))).toBe(true)

    // An unknown version is refused with a coded error, and the active one stays.
    const refused = await registry.activate('latency', 9).catch((err: unknown) => err)
    expect(isCairnError(refused, 'CAIRN_ERR_MODEL_NOT_FOUND')).toBe(true)
    expect(await registry.activeVersion('latency')).toBe(2)

    // The table itself refuses a second active version of a name.
    const twoActive = await pool
      .query(`UPDATE cairn_meta.models SET active = true WHERE name = 'latency' AND version = 1`)
      .catch((err: { code?: string }) => err)
    expect((twoActive as { code?: string }).code).toBe('23505')

    // Registering with activate swaps in the same transaction.
    const v3 = await registry.register({
      name: 'latency',
      algorithm: 'onnx-import',
      featureNames: planFeatureNames,
      onnx: tinyModel(2),
      activate: true,
    })
    expect(v3).toMatchObject({ version: 3, active: true })
    const { rows } = await pool.query(`SELECT version FROM cairn_meta.models WHERE name = 'latency' AND active`)
    expect(rows).toEqual([{ version: 3 }])
  })

  it('gives concurrent registrations distinct versions', async () => {
    const registry = new ModelRegistry(pool)
    const bytes = tinyModel(0)
    const made = await Promise.all(
      Array.from({ length: 5 }, () =>
        registry.register({
          name: 'concurrent',
          algorithm: 'gradient-boosted-trees',
          featureNames: planFeatureNames,
          onnx: bytes,
        }),
      ),
    )
    expect(made.map((m) => m.version).sort()).toEqual([1, 2, 3, 4, 5])
  })

  it('lets a running predictor pick up a version activated elsewhere, without a restart', async () => {
    const registry = new ModelRegistry(pool)
    for (const logMs of [0, Math.log(50)])
      await registry.register({
        name: 'swap',
        algorithm: 'gradient-boosted-trees',
        featureNames: planFeatureNames,
        onnx: tinyModel(logMs),
      })
    await registry.activate('swap', 1)
    const predictor = new LatencyPredictor({ pool, modelName: 'swap' })
    predictor.attach(readOnlyDb(pool))
    try {
      expect(await predictor.refresh()).toEqual({ changed: true, version: 1 })
      const row = new Array<number>(F).fill(0)
      const before = await predictor.predictFeatures(row)
      expect(before?.modelVersion).toBe(1)
      expect(before?.ms).toBeCloseTo(1, 1)

      await activateModel(pool, 'swap', 2)
      expect(await predictor.refresh()).toEqual({ changed: true, version: 2, previous: 1 })
      const after = await predictor.predictFeatures(row)
      expect(after?.modelVersion).toBe(2)
      expect((after?.ms ?? 0) / 50).toBeCloseTo(1, 1)
      expect(await predictor.refresh()).toEqual({ changed: false, version: 2 })
    } finally {
      await predictor.detach()
    }
  })
})

describe('latency samples and training from them', () => {
  it('keeps only the newest samples, with their features as float32', async () => {
    const store = new LatencySampleStore(pool, { maxSamples: 10 })
    const made = samples(30)
    await store.append(made)
    expect(await store.trim()).toBe(20)
    const kept = await store.newest(100)
    expect(kept).toHaveLength(10)
    expect(kept.map((s) => s.at.getTime())).toEqual(made.slice(20).map((s) => s.at.getTime()))
    expect(kept[0]?.features).toHaveLength(F)
    expect(kept[0]?.features[0]).toBeCloseTo(made[20]?.features[0] as number, 5)
    expect(await store.count(made[24]?.at)).toBe(5)
    await pool.query('TRUNCATE cairn_meta.latency_samples')
  })

  it('trains a version from stored samples for the CLI, activating it only when asked or not worse', async () => {
    await pool.query(`DELETE FROM cairn_meta.models WHERE name = 'latency'`)
    const refused = await trainModelNow(pool, 'latency').catch((err: unknown) => err)
    expect(isCairnError(refused, 'CAIRN_ERR_MODEL_NOT_TRAINABLE')).toBe(true)
    expect((refused as Error).message).toMatch(/0 samples are stored/)

    await new LatencySampleStore(pool).append(samples(300))
    const first = await trainModelNow(pool, 'latency')
    expect(first.activated).toBe(true)
    expect(first.version).toMatchObject({
      version: 1,
      active: true,
      sampleCount: 300,
      algorithm: 'gradient-boosted-trees',
    })
    expect(first.version.trainedFrom?.toISOString()).toBe('2024-06-01T00:00:00.000Z')
    expect(first.metrics.heldOut.rows).toBe(60)
    expect(first.metrics.heldOut.medianQError).toBeLessThan(1.3)
    expect(first.reason).toMatch(
      /^Trained latency model v1 on 300 samples: held-out median q-error \d\.\d\d, p90 \d\.\d\d on 60 rows .*activated v1, the first active version\.$/,
    )
    const stored = (await listModels(pool, 'latency'))[0]
    expect(stored?.metrics.heldOut).toMatchObject({ medianQError: first.metrics.heldOut.medianQError })

    const second = await trainModelNow(pool, 'latency', { activation: 'never' })
    expect(second).toMatchObject({ activated: false, version: { version: 2, active: false } })
    expect(second.reason).toMatch(/left v2 inactive as asked/)

    // Same samples, same seed: the new version scores exactly as the active one on the same rows, so it is not worse.
    const third = await trainModelNow(pool, 'latency')
    expect(third.previous?.version).toBe(1)
    expect(third.previous?.heldOut.medianQError).toBeCloseTo(third.metrics.heldOut.medianQError, 4)
    expect(third.activated).toBe(true)

    const unknown = await trainModelNow(pool, 'nope').catch((err: unknown) => err)
    expect(isCairnError(unknown, 'CAIRN_ERR_MODEL_NOT_FOUND')).toBe(true)
  })
})
