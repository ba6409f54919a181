import type { ModelRegistry, ModelVersion } from '../models/model-registry.js'
import type { LatencySampleStore } from './latency-sample-store.js'
import { OnnxLatencyModel } from './onnx-latency-model.js'
import { latencyModelName, planFeatureNames } from './plan-features.js'
import { formatQError, qError, summarizeQErrors } from './q-error.js'
import type {
  AccuracyMetrics,
  LatencyModelMetrics,
  LatencyTrainingInput,
  LatencyTrainingResult,
} from './train-latency-model.js'

// Relative slack in "not worse", for float32 rounding between runs of the same model.
const TOLERANCE = 1e-6

/** When a freshly trained version becomes the active one. */
export type LatencyModelActivation = 'if-not-worse' | 'always' | 'never'

export interface RetrainLatencyModelInput {
  readonly registry: ModelRegistry
  readonly samples: LatencySampleStore
  /** Runs `trainLatencyModel`: through `ctx.workers.run` in an agent, directly in the CLI. */
  readonly train: (input: LatencyTrainingInput) => Promise<LatencyTrainingResult>
  readonly name?: string
  /** Newest samples trained on. Default 20 000. */
  readonly maxTrainingSamples?: number
  /** Default `if-not-worse`: its held-out median and p90 q-error are no higher than the active version's on the same rows. */
  readonly activation?: LatencyModelActivation
  /** The active model as already loaded (saves loading it again); read from the registry when absent. */
  readonly active?: OnnxLatencyModel
  readonly trees?: LatencyTrainingInput['trees']
}

export interface RetrainLatencyModelOutcome {
  readonly version: ModelVersion
  readonly metrics: LatencyModelMetrics
  readonly activated: boolean
  /** The version that was active, measured on the new version's held-out rows. */
  readonly previous?: { readonly version: number; readonly heldOut: AccuracyMetrics }
  /** A sentence saying what was trained, how accurate it is and whether it was activated, and why. */
  readonly reason: string
}

/**
 * Trains a new latency model version from the stored samples, registers it,
 * and activates it when it is not worse than the active version on the same
 * held-out rows (or as `activation` says).
 */
export async function retrainLatencyModel(input: RetrainLatencyModelInput): Promise<RetrainLatencyModelOutcome> {
  const name = input.name ?? latencyModelName
  const samples = await input.samples.newest(input.maxTrainingSamples ?? 20_000)
  const result = await input.train({
    features: samples.map((s) => s.features),
    actualMs: samples.map((s) => s.actualMs),
    featureNames: planFeatureNames,
    modelName: name,
    ...(input.trees ? { trees: input.trees } : {}),
  })
  const held = result.metrics.heldOut

  let previous: RetrainLatencyModelOutcome['previous']
  let candidateHeldOut: AccuracyMetrics = held
  const activation = input.activation ?? 'if-not-worse'
  if (activation === 'if-not-worse') {
    let active = input.active
    let loaded: OnnxLatencyModel | undefined
    if (!active) {
      const artifact = await input.registry.loadActive(name)
      if (artifact) {
        loaded = await OnnxLatencyModel.load(artifact.onnx, {
          featureCount: artifact.featureNames.length,
          output: artifact.output,
          name,
          version: artifact.version,
        })
        active = loaded
      }
    }
    try {
      if (active?.version !== undefined && active.featureCount === planFeatureNames.length) {
        // Both scored through ONNX Runtime on the same rows, so equal models compare equal.
        const candidate = await OnnxLatencyModel.load(result.onnx, { featureCount: planFeatureNames.length })
        try {
          candidateHeldOut = await heldOutAccuracy(candidate, samples, result.holdoutIndices)
        } finally {
          await candidate.release()
        }
        previous = { version: active.version, heldOut: await heldOutAccuracy(active, samples, result.holdoutIndices) }
      }
    } finally {
      await loaded?.release()
    }
  }
  const notWorse =
    !previous ||
    (candidateHeldOut.medianQError <= previous.heldOut.medianQError * (1 + TOLERANCE) &&
      candidateHeldOut.p90QError <= previous.heldOut.p90QError * (1 + TOLERANCE))
  const activate = activation === 'always' || (activation === 'if-not-worse' && notWorse)

  const version = await input.registry.register({
    name,
    algorithm: 'gradient-boosted-trees',
    featureNames: planFeatureNames,
    output: 'ln_ms',
    ...(samples.length > 0
      ? { trainedFrom: (samples[0] as { at: Date }).at, trainedTo: (samples[samples.length - 1] as { at: Date }).at }
      : {}),
    sampleCount: samples.length,
    metrics: { ...result.metrics, ...(previous ? { comparedWith: previous } : {}) },
    onnx: result.onnx,
    activate,
  })

  const accuracy = `held-out median q-error ${formatQError(held.medianQError)}, p90 ${formatQError(held.p90QError)} on ${held.rows} rows`
  const baseline = result.metrics.baseline
    ? ` (the log-cost line: ${formatQError(result.metrics.baseline.heldOut.medianQError)}, ${formatQError(result.metrics.baseline.heldOut.p90QError)})`
    : ''
  const against = previous
    ? `; v${previous.version}, active until now, scores ${formatQError(previous.heldOut.medianQError)}, ${formatQError(previous.heldOut.p90QError)} on the same rows`
    : ''
  const decision = activate
    ? previous || activation === 'always'
      ? `activated v${version.version}`
      : `activated v${version.version}, the first active version`
    : activation === 'never'
      ? `left v${version.version} inactive as asked`
      : `kept v${previous?.version} active because v${version.version} is worse on the same rows`
  const reason = `Trained latency model v${version.version} on ${samples.length} samples: ${accuracy}${baseline}${against}; ${decision}.`
  return { version, metrics: result.metrics, activated: activate, ...(previous ? { previous } : {}), reason }
}

async function heldOutAccuracy(
  model: OnnxLatencyModel,
  samples: readonly { features: readonly number[]; actualMs: number }[],
  indices: readonly number[],
): Promise<AccuracyMetrics> {
  const rows = indices.map((i) => samples[i] as { features: readonly number[]; actualMs: number })
  const predicted = await model.predictMs(rows.map((r) => r.features))
  const s = summarizeQErrors(predicted.map((ms, k) => qError(ms, (rows[k] as { actualMs: number }).actualMs)))
  return { rows: s.count, medianQError: s.median, p90QError: s.p90, meanQError: s.mean, maxQError: s.max }
}
