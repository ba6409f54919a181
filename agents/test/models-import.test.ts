import { isCairnError } from '@cairn/core'
import onnxProto from 'onnx-proto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { readOnlyDb } from '../src/host/read-only-db.js'
import { LatencyPredictor } from '../src/latency/latency-predictor.js'
import { type LatencySample, LatencySampleStore } from '../src/latency/latency-sample-store.js'
import { planFeatureNames } from '../src/latency/plan-features.js'
import { importOnnxModel } from '../src/models/import-onnx-model.js'
import { listModels, trainModelNow } from '../src/models/model-commands.js'

const { onnx } = onnxProto
const F = planFeatureNames.length
const FLOAT = onnx.TensorProto.DataType.FLOAT
const DOUBLE = onnx.TensorProto.DataType.DOUBLE

/**
 * What skl2onnx writes for a scikit-learn LinearRegression converted with
 * `initial_types=[('float_input', FloatTensorType([None, F]))]`: one
 * ai.onnx.ml LinearRegressor, input `float_input`, output `variable` [N, targets].
 */
function linearRegressorOnnx({
  features = F,
  declaredFeatures = features as number | string,
  targets = 1,
  declaredTargets = targets as number | string,
  inputType = FLOAT,
  opType = 'LinearRegressor',
  coefficients = [0.5, ...new Array<number>(features - 1).fill(0)],
  intercept = -1,
}: {
  features?: number
  declaredFeatures?: number | string
  targets?: number
  declaredTargets?: number | string
  inputType?: number
  opType?: string
  coefficients?: number[]
  intercept?: number
} = {}): Uint8Array {
  const T = onnx.AttributeProto.AttributeType
  const dim = (d: number | string) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'skl2onnx',
    producerVersion: '1.16.0',
    opsetImport: [
      { domain: '', version: 15 },
      { domain: 'ai.onnx.ml', version: 1 },
    ],
    graph: {
      name: 'LinearRegression',
      node: [
        {
          opType,
          domain: 'ai.onnx.ml',
          input: ['float_input'],
          output: ['variable'],
          attribute: [
            {
              name: 'coefficients',
              type: T.FLOATS,
              floats: Array.from({ length: targets }, () => coefficients).flat(),
            },
            { name: 'intercepts', type: T.FLOATS, floats: new Array<number>(targets).fill(intercept) },
            { name: 'targets', type: T.INT, i: targets },
          ],
        },
      ],
      input: [
        {
          name: 'float_input',
          type: { tensorType: { elemType: inputType, shape: { dim: [dim('N'), dim(declaredFeatures)] } } },
        },
      ],
      output: [
        {
          name: 'variable',
          type: { tensorType: { elemType: FLOAT, shape: { dim: [dim('N'), dim(declaredTargets)] } } },
        },
      ],
    },
  })
  return onnx.ModelProto.encode(model).finish()
}

let db: TestDatabase
let pool: pg.Pool

beforeAll(async () => {
  db = await createMigratedTestDatabase('models_import')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
})

afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

describe('importing an ONNX latency model trained elsewhere', () => {
  it('refuses a model whose input or output does not match the documented signature, and stores nothing', async () => {
    const cases: [string, Parameters<typeof importOnnxModel>[1], RegExp][] = [
      [
        'too few features',
        { onnx: linearRegressorOnnx({ features: F - 1 }) },
        /takes 46 features, the documented signature has 47/,
      ],
      [
        'two outputs per row',
        { onnx: linearRegressorOnnx({ targets: 2 }) },
        /first output variable has shape \[N, 2\]/,
      ],
      [
        'float64 input',
        { onnx: linearRegressorOnnx({ inputType: DOUBLE }) },
        /input float_input is DOUBLE, expected float32/,
      ],
      [
        'two outputs per row behind symbolic dimensions, found by running it',
        { onnx: linearRegressorOnnx({ targets: 2, declaredFeatures: 'F', declaredTargets: 'T' }) },
        /for 2 rows its first output has shape \[2, 2\], expected \[2, 1\] or \[2\]/,
      ],
      [
        'an operator ONNX Runtime does not have',
        { onnx: linearRegressorOnnx({ opType: 'NoSuchRegressor' }) },
        /ONNX Runtime cannot run it/,
      ],
      [
        'not ONNX at all',
        { onnx: new TextEncoder().encode('definitely not a model') },
        /not an ONNX model|declares no input/,
      ],
      [
        'feature names in another order',
        { onnx: linearRegressorOnnx(), featureNames: [...planFeatureNames].reverse() },
        /feature names differ from the documented signature/,
      ],
    ]
    for (const [what, options, message] of cases) {
      const err = await importOnnxModel(pool, options).catch((e: unknown) => e)
      expect(isCairnError(err, 'CAIRN_ERR_PLUGIN_INVALID'), what).toBe(true)
      expect((err as Error).message, what).toMatch(message)
    }
    expect(await listModels(pool)).toEqual([])
  })

  it('registers a matching model as a new version that the predictor runs, in ln(ms) or ms', async () => {
    const imported = await importOnnxModel(pool, {
      onnx: linearRegressorOnnx(),
      metrics: { heldOut: { medianQError: 1.1 } },
      activate: true,
    })
    expect(imported).toMatchObject({
      name: 'latency',
      version: 1,
      algorithm: 'onnx-import',
      output: 'ln_ms',
      active: true,
    })
    expect(imported.metrics).toMatchObject({
      heldOut: { medianQError: 1.1 },
      imported: { producer: 'skl2onnx 1.16.0', input: { name: 'float_input', dims: ['N', F] } },
    })

    const predictor = new LatencyPredictor({ pool })
    predictor.attach(readOnlyDb(pool))
    try {
      await predictor.refresh()
      const row = new Array<number>(F).fill(0)
      row[0] = 6
      const prediction = await predictor.predictFeatures(row)
      expect(prediction?.modelVersion).toBe(1)
      expect(prediction?.ms).toBeCloseTo(Math.exp(-1 + 0.5 * 6), 3)

      // A model predicting milliseconds directly is read as such.
      await importOnnxModel(pool, { onnx: linearRegressorOnnx({ intercept: 3 }), output: 'ms', activate: true })
      expect(await predictor.refresh()).toMatchObject({ changed: true, version: 2 })
      expect((await predictor.predictFeatures(row))?.ms).toBeCloseTo(3 + 0.5 * 6, 3)
    } finally {
      await predictor.detach()
    }
  })

  it('keeps a better imported model active when a newly trained version is worse on the same rows', async () => {
    await pool.query('DELETE FROM cairn_meta.models')
    // Latency is exactly exp(-1 + 0.5 × ln-cost) times noise the features cannot explain: the imported line is the truth.
    const samples: LatencySample[] = Array.from({ length: 400 }, (_, i) => {
      const cost = ((i * 7919) % 1000) / 100
      const hash = Math.sin(i * 12.9898) * 43758.5453
      const noise = Math.exp(0.3 * (2 * (hash - Math.floor(hash)) - 1))
      const features = planFeatureNames.map((name, f) => (f === 0 ? cost : name === 'cluster_id' ? -1 : 0))
      return {
        at: new Date(Date.parse('2024-06-01T00:00:00Z') + i * 1000),
        fingerprint: 'fp',
        features,
        actualMs: Math.exp(-1 + 0.5 * cost) * noise,
        planHash: 'h',
        planShape: 'Seq Scan silver.orders',
      }
    })
    await new LatencySampleStore(pool).append(samples)
    await importOnnxModel(pool, { onnx: linearRegressorOnnx(), activate: true })
    const outcome = await trainModelNow(pool, 'latency', { maxTrainingSamples: 400 })
    expect(outcome.previous?.version).toBe(1)
    expect(outcome.activated).toBe(false)
    expect(outcome.reason).toMatch(/kept v1 active because v2 is worse on the same rows\.$/)
    expect((await listModels(pool, 'latency')).map((m) => [m.version, m.active])).toEqual([
      [2, false],
      [1, true],
    ])
  })
})
