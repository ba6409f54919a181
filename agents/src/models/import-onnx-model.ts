import { errors } from '@cairn/core'
import type pg from 'pg'
import { OnnxLatencyModel } from '../latency/onnx-latency-model.js'
import { latencyModelName, planFeatureNames } from '../latency/plan-features.js'
import { type ModelOutput, ModelRegistry, type ModelVersion } from './model-registry.js'
import { type OnnxModelSignature, onnxModelSignature } from './onnx-model-signature.js'

// ONNX TensorProto.DataType codes the import accepts.
const FLOAT = 1
const DOUBLE = 11

export interface ImportOnnxModelOptions {
  /** The registry name. Default `latency`. */
  readonly name?: string
  readonly onnx: Uint8Array
  /**
   * What the first output holds: `ln_ms` (natural log of milliseconds, what Cairn's
   * own models predict) or `ms`. Default `ln_ms`.
   */
  readonly output?: ModelOutput
  /** When given, must equal the documented signature (`planFeatureNames`), name for name. */
  readonly featureNames?: readonly string[]
  /** Accuracy the user measured, stored with the version. */
  readonly metrics?: Record<string, unknown>
  readonly sampleCount?: number
  /** Make it the active version right away. Default false. */
  readonly activate?: boolean
}

/**
 * Registers an ONNX latency model trained elsewhere (scikit-learn through
 * skl2onnx, for example) as a new version. It must take the documented input
 * signature, one float32 tensor [N, F] with F = planFeatureNames.length in that
 * order, and give N predictions as its first output ([N, 1] or [N]). The
 * declared shapes are checked, then the model is run once on a probe batch;
 * any mismatch is refused with CAIRN_ERR_PLUGIN_INVALID before anything is stored.
 */
export async function importOnnxModel(pool: pg.Pool, options: ImportOnnxModelOptions): Promise<ModelVersion> {
  const name = options.name ?? latencyModelName
  const featureCount = planFeatureNames.length
  if (options.featureNames && options.featureNames.join(',') !== planFeatureNames.join(','))
    throw errors.PLUGIN_INVALID(
      `model ${name}: its feature names differ from the documented signature (${featureCount} features: ${planFeatureNames.join(', ')})`,
    )

  let signature: OnnxModelSignature
  try {
    signature = onnxModelSignature(options.onnx)
  } catch (cause) {
    throw errors.PLUGIN_INVALID(`model ${name}: not an ONNX model (${(cause as Error).message})`, { cause })
  }
  const problem = signatureProblem(signature, featureCount)
  if (problem) throw errors.PLUGIN_INVALID(`model ${name}: ${problem}`)

  // The declared shapes can be symbolic: run it once to be sure it answers one number per row.
  let model: OnnxLatencyModel | undefined
  try {
    model = await OnnxLatencyModel.load(options.onnx, { featureCount, output: options.output ?? 'ln_ms' })
    const probe = [new Array<number>(featureCount).fill(0), new Array<number>(featureCount).fill(1)]
    const { values, dims } = await model.run(probe)
    const shapeOk = values.length === probe.length && (dims.length === 1 || (dims.length === 2 && dims[1] === 1))
    if (!shapeOk)
      throw errors.PLUGIN_INVALID(
        `model ${name}: for ${probe.length} rows its first output has shape [${dims.join(', ')}], expected [${probe.length}, 1] or [${probe.length}]`,
      )
    if (!values.every(Number.isFinite))
      throw errors.PLUGIN_INVALID(`model ${name}: it predicts non-finite values for a probe batch`)
  } catch (err) {
    if ((err as { code?: string }).code === errors.PLUGIN_INVALID.code) throw err
    throw errors.PLUGIN_INVALID(`model ${name}: ONNX Runtime cannot run it (${(err as Error).message})`, {
      cause: err,
    })
  } finally {
    await model?.release()
  }

  return new ModelRegistry(pool).register({
    name,
    algorithm: 'onnx-import',
    featureNames: planFeatureNames,
    output: options.output ?? 'ln_ms',
    sampleCount: options.sampleCount ?? 0,
    metrics: {
      ...options.metrics,
      imported: {
        producer: signature.producer || 'unknown',
        input: signature.inputs[0],
        output: signature.outputs[0],
        opsets: signature.opsets,
      },
    },
    onnx: options.onnx,
    activate: options.activate ?? false,
  })
}

/** Why the declared signature cannot be the latency model's, or undefined when it can. */
function signatureProblem(signature: OnnxModelSignature, featureCount: number): string | undefined {
  const [input, ...moreInputs] = signature.inputs
  if (!input) return 'it declares no input'
  if (moreInputs.length > 0)
    return `it declares ${signature.inputs.length} inputs (${signature.inputs.map((i) => i.name).join(', ')}), expected one float32 [N, ${featureCount}]`
  if (input.elemType !== FLOAT)
    return `its input ${input.name} is ${input.elemTypeName}, expected float32 [N, ${featureCount}] (skl2onnx: FloatTensorType([None, ${featureCount}]))`
  if (input.dims.length !== 2)
    return `its input ${input.name} has rank ${input.dims.length}, expected [N, ${featureCount}]`
  if (typeof input.dims[1] === 'number' && input.dims[1] !== featureCount)
    return `its input ${input.name} takes ${input.dims[1]} features, the documented signature has ${featureCount}`
  const output = signature.outputs[0]
  if (!output) return 'it declares no output'
  if (output.elemType !== FLOAT && output.elemType !== DOUBLE)
    return `its first output ${output.name} is ${output.elemTypeName}, expected float32 predictions`
  if (
    output.dims.length > 2 ||
    (output.dims.length === 2 && typeof output.dims[1] === 'number' && output.dims[1] !== 1)
  )
    return `its first output ${output.name} has shape [${output.dims.join(', ')}], expected [N, 1] or [N]`
  return undefined
}
