import { exportOnnx } from './export-onnx.js'
import {
  type GradientBoostedTreesOptions,
  predictGradientBoostedTrees,
  trainGradientBoostedTrees,
} from './gradient-boosted-trees.js'
import { fitLogCostBaseline, predictLogCostBaseline } from './log-cost-baseline.js'
import { qError, qErrorFloorMs, summarizeQErrors } from './q-error.js'

export interface LatencyTrainingInput {
  /** One row of plan features per sample, in the order of `featureNames`. */
  readonly features: readonly (readonly number[])[]
  /** Measured latency of each sample, milliseconds. */
  readonly actualMs: readonly number[]
  readonly featureNames: readonly string[]
  /** Share of the rows held out to measure the model. Default 0.2. */
  readonly holdoutFraction?: number
  /** Seed of the split and of the row sampling. Default 1. */
  readonly seed?: number
  readonly trees?: GradientBoostedTreesOptions
  readonly modelName?: string
  readonly modelVersion?: number
}

export interface AccuracyMetrics {
  readonly rows: number
  readonly medianQError: number
  readonly p90QError: number
  readonly meanQError: number
  readonly maxQError: number
}

/** What is stored with a trained model (jsonb in `cairn_meta.models.metrics`). */
export interface LatencyModelMetrics {
  readonly target: 'ln_ms'
  /** On rows the model never saw. */
  readonly heldOut: AccuracyMetrics
  readonly train: AccuracyMetrics
  /** The linear model on ln(1 + total cost), fitted and measured on the same split. */
  readonly baseline?: { readonly model: string; readonly heldOut: AccuracyMetrics }
  readonly hyperparameters: Required<GradientBoostedTreesOptions>
  /** The features that won the most error reduction, with their share of it. */
  readonly topFeatures: { readonly name: string; readonly share: number }[]
}

export interface LatencyTrainingResult {
  /** The model as ONNX (see `exportOnnx` for its signature). */
  readonly onnx: Uint8Array
  readonly metrics: LatencyModelMetrics
  /** Which input rows were held out, so a caller can measure another model on the same rows. */
  readonly holdoutIndices: number[]
}

/** Rows below which a split leaves too little to learn from or to measure on. */
export const minTrainingRows = 20

/**
 * Trains the latency model: a seeded train/holdout split, gradient-boosted
 * trees on ln(ms), the q-error of the trees and of the log-cost baseline on
 * the held-out rows, and the ONNX bytes. Heavy: run it in a worker
 * (`ctx.workers.run`); input and output are structured-cloneable.
 */
export function trainLatencyModel(input: LatencyTrainingInput): LatencyTrainingResult {
  const n = input.features.length
  if (n < minTrainingRows || input.actualMs.length !== n)
    throw new RangeError(`training needs at least ${minTrainingRows} samples with one latency each (got ${n})`)
  const seed = input.seed ?? 1
  const order = shuffled(n, seed)
  const holdoutCount = Math.max(1, Math.round(n * (input.holdoutFraction ?? 0.2)))
  const holdoutIndices = order.slice(0, holdoutCount).sort((a, b) => a - b)
  const trainIndices = order.slice(holdoutCount).sort((a, b) => a - b)
  const logMs = input.actualMs.map((ms) => Math.log(Math.max(ms, qErrorFloorMs)))

  const rows = (idx: number[]) => idx.map((i) => input.features[i] as readonly number[])
  const targets = (idx: number[]) => idx.map((i) => logMs[i] as number)
  const model = trainGradientBoostedTrees(rows(trainIndices), targets(trainIndices), { seed, ...input.trees })
  const accuracy = (idx: number[], predict: (row: readonly number[]) => number): AccuracyMetrics => {
    const s = summarizeQErrors(
      idx.map((i) => qError(Math.exp(predict(input.features[i] as readonly number[])), input.actualMs[i] as number)),
    )
    return { rows: s.count, medianQError: s.median, p90QError: s.p90, meanQError: s.mean, maxQError: s.max }
  }
  const predictTrees = (row: readonly number[]) => predictGradientBoostedTrees(model, row)

  const costAt = input.featureNames.indexOf('log_total_cost')
  let baseline: LatencyModelMetrics['baseline']
  if (costAt >= 0) {
    const fit = fitLogCostBaseline(
      trainIndices.map((i) => (input.features[i] as readonly number[])[costAt] as number),
      targets(trainIndices),
    )
    baseline = {
      model: 'least squares: ln(ms) = a + b × ln(1 + total cost)',
      heldOut: accuracy(holdoutIndices, (row) => predictLogCostBaseline(fit, row[costAt] as number)),
    }
  }

  const totalGain = model.importance.reduce((a, b) => a + b, 0) || 1
  const topFeatures = model.importance
    .map((gain, f) => ({ name: input.featureNames[f] ?? `f${f}`, share: round(gain / totalGain, 4) }))
    .filter((f) => f.share > 0)
    .sort((a, b) => b.share - a.share)
    .slice(0, 8)

  const metrics: LatencyModelMetrics = {
    target: 'ln_ms',
    heldOut: accuracy(holdoutIndices, predictTrees),
    train: accuracy(trainIndices, predictTrees),
    ...(baseline ? { baseline } : {}),
    hyperparameters: model.options,
    topFeatures,
  }
  const onnx = exportOnnx(model, {
    featureNames: input.featureNames,
    ...(input.modelName !== undefined ? { modelName: input.modelName } : {}),
    ...(input.modelVersion !== undefined ? { modelVersion: input.modelVersion } : {}),
  })
  return { onnx, metrics, holdoutIndices }
}

/** 0..n-1 in a seeded random order (Fisher–Yates on a small LCG), so a split is repeatable. */
function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i)
  let state = (seed * 2654435761) >>> 0 || 1
  for (let i = n - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    const j = state % (i + 1)
    ;[order[i], order[j]] = [order[j] as number, order[i] as number]
  }
  return order
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
