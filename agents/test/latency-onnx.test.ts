import { describe, expect, it } from 'vitest'
import { exportOnnx, onnxInputName, onnxOutputName } from '../src/latency/export-onnx.js'
import { predictGradientBoostedTrees, trainGradientBoostedTrees } from '../src/latency/gradient-boosted-trees.js'
import { OnnxLatencyModel } from '../src/latency/onnx-latency-model.js'
import { planFeatureNames } from '../src/latency/plan-features.js'
import { trainLatencyModel } from '../src/latency/train-latency-model.js'
import { onnxModelSignature } from '../src/models/onnx-model-signature.js'

const F = planFeatureNames.length

/** Rows shaped like plan features: log-scaled costs with many decimals, small counts, a cluster id. */
function syntheticRows(n: number, seed: number): { rows: number[][]; logMs: number[] } {
  let s = seed
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
  const rows: number[][] = []
  const logMs: number[] = []
  for (let i = 0; i < n; i++) {
    const row = planFeatureNames.map((name) =>
      name.startsWith('log_')
        ? rand() * 12
        : name === 'cluster_id'
          ? Math.floor(rand() * 5) - 1
          : Math.floor(rand() * 4),
    )
    rows.push(row)
    const cost = row[0] as number
    logMs.push(
      -2 + 0.6 * cost + ((row[15] as number) > 1 ? 0.8 : 0) - 0.3 * (row[29] as number) + 0.1 * Math.sin(5 * cost),
    )
  }
  return { rows, logMs }
}

describe('ONNX export of the latency model', () => {
  it('predicts what the TypeScript ensemble predicts, within float32 tolerance, on held-out rows', async () => {
    const train = syntheticRows(600, 7)
    const heldOut = syntheticRows(200, 99)
    const model = trainGradientBoostedTrees(train.rows, train.logMs, { trees: 120, maxDepth: 5 })
    const bytes = exportOnnx(model, { featureNames: planFeatureNames })
    const onnx = await OnnxLatencyModel.load(bytes, { featureCount: F })
    try {
      expect(onnx.inputName).toBe(onnxInputName)
      expect(onnx.outputName).toBe(onnxOutputName)
      const { values, dims } = await onnx.run(heldOut.rows)
      expect(dims).toEqual([heldOut.rows.length, 1])
      const ts = heldOut.rows.map((row) => predictGradientBoostedTrees(model, row))
      let worst = 0
      values.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - (ts[i] as number)))
      })
      // Leaf sums in float32 over 120 trees: a few ulps of a value near 5.
      expect(worst).toBeLessThan(1e-4)
      // Not a constant model: the predictions spread like the targets.
      expect(Math.max(...ts) - Math.min(...ts)).toBeGreaterThan(3)
    } finally {
      await onnx.release()
    }
  })

  it('documents its signature in the model: input features float32 [N, F], output log_ms [N, 1], feature names', async () => {
    const { rows, logMs } = syntheticRows(300, 3)
    const result = trainLatencyModel({ features: rows, actualMs: logMs.map(Math.exp), featureNames: planFeatureNames })
    const signature = onnxModelSignature(result.onnx)
    expect(signature.inputs).toEqual([{ name: 'features', elemType: 1, elemTypeName: 'FLOAT', dims: ['N', F] }])
    expect(signature.outputs).toEqual([{ name: 'log_ms', elemType: 1, elemTypeName: 'FLOAT', dims: ['N', 1] }])
    expect(JSON.parse(signature.metadata.feature_names ?? '[]')).toEqual([...planFeatureNames])
    expect(signature.opsets).toContainEqual({ domain: 'ai.onnx.ml', version: 3 })
    expect(result.metrics.heldOut.rows).toBe(60)
    expect(result.metrics.train.rows).toBe(240)
    // The targets are a smooth function of the features, so the trees must fit them closely and beat the cost line.
    expect(result.metrics.heldOut.medianQError).toBeLessThan(1.2)
    expect(result.metrics.heldOut.medianQError).toBeLessThan(result.metrics.baseline?.heldOut.medianQError ?? 0)

    const onnx = await OnnxLatencyModel.load(result.onnx, { featureCount: F })
    try {
      const heldRows = result.holdoutIndices.map((i) => rows[i] as number[])
      const predicted = await onnx.predictMs(heldRows)
      const ratios = predicted.map((ms, k) => ms / Math.exp(logMs[result.holdoutIndices[k] as number] as number))
      expect(Math.max(...ratios.map((r) => Math.max(r, 1 / r)))).toBeLessThan(5)
    } finally {
      await onnx.release()
    }
  })
})
