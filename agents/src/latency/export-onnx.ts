import onnxProto from 'onnx-proto'
import type { GradientBoostedTreesModel } from './gradient-boosted-trees.js'

// onnx-proto is CommonJS: Node's ESM loader only sees its default export, so the namespace is read from it.
const { onnx } = onnxProto

/** Name of the model's input: float32 [N, F], F features in the order of the feature names. */
export const onnxInputName = 'features'
/** Name of the model's output: float32 [N, 1], the predicted natural log of the latency in milliseconds. */
export const onnxOutputName = 'log_ms'
/** ONNX IR version 8 (ONNX 1.10), which every ONNX Runtime since 1.10 reads. */
const IR_VERSION = 8
/** ai.onnx.ml opset 3: TreeEnsembleRegressor with float attributes, as skl2onnx writes it. */
const ML_OPSET = 3
const DEFAULT_OPSET = 15

export interface OnnxExportOptions {
  readonly featureNames: readonly string[]
  readonly modelName?: string
  readonly modelVersion?: number
  readonly docString?: string
}

/**
 * Writes a trained ensemble as an ONNX model: one `TreeEnsembleRegressor`
 * (domain `ai.onnx.ml`), input `features` float32 [N, F], output `log_ms`
 * float32 [N, 1]. The feature names travel in the model's metadata.
 */
export function exportOnnx(model: GradientBoostedTreesModel, options: OnnxExportOptions): Uint8Array {
  if (options.featureNames.length !== model.featureCount)
    throw new RangeError(`${options.featureNames.length} feature names for a model of ${model.featureCount} features`)
  const ids = {
    tree: [] as number[],
    node: [] as number[],
    feature: [] as number[],
    true: [] as number[],
    false: [] as number[],
  }
  const values: number[] = []
  const modes: string[] = []
  const targets = { tree: [] as number[], node: [] as number[], weight: [] as number[] }
  model.trees.forEach((tree, t) => {
    tree.feature.forEach((feature, node) => {
      ids.tree.push(t)
      ids.node.push(node)
      if (feature < 0) {
        ids.feature.push(0)
        ids.true.push(0)
        ids.false.push(0)
        values.push(0)
        modes.push('LEAF')
        targets.tree.push(t)
        targets.node.push(node)
        targets.weight.push(tree.value[node] as number)
      } else {
        ids.feature.push(feature)
        ids.true.push(tree.left[node] as number)
        ids.false.push(tree.right[node] as number)
        values.push(tree.threshold[node] as number)
        modes.push('BRANCH_LEQ')
      }
    })
  })
  const attributes = [
    ints('nodes_treeids', ids.tree),
    ints('nodes_nodeids', ids.node),
    ints('nodes_featureids', ids.feature),
    floats('nodes_values', values),
    strings('nodes_modes', modes),
    ints('nodes_truenodeids', ids.true),
    ints('nodes_falsenodeids', ids.false),
    ints('target_treeids', targets.tree),
    ints('target_nodeids', targets.node),
    ints(
      'target_ids',
      targets.node.map(() => 0),
    ),
    floats('target_weights', targets.weight),
    int('n_targets', 1),
    string('aggregate_function', 'SUM'),
    floats('base_values', [model.baseScore]),
    string('post_transform', 'NONE'),
  ]
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'cairn',
    domain: 'dev.cairn',
    modelVersion: options.modelVersion ?? 0,
    docString:
      options.docString ??
      `Predicts ln(latency in ms) of a SELECT from ${model.featureCount} plan features; input "${onnxInputName}" float32 [N, ${model.featureCount}], output "${onnxOutputName}" float32 [N, 1].`,
    opsetImport: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: 'ai.onnx.ml', version: ML_OPSET },
    ],
    graph: {
      name: options.modelName ?? 'latency',
      node: [
        {
          name: 'trees',
          opType: 'TreeEnsembleRegressor',
          domain: 'ai.onnx.ml',
          input: [onnxInputName],
          output: [onnxOutputName],
          attribute: attributes,
        },
      ],
      input: [tensor(onnxInputName, ['N', model.featureCount])],
      output: [tensor(onnxOutputName, ['N', 1])],
    },
    metadataProps: [
      { key: 'feature_names', value: JSON.stringify(options.featureNames) },
      { key: 'output', value: 'ln_ms' },
      { key: 'algorithm', value: model.algorithm },
      { key: 'trees', value: String(model.trees.length) },
    ],
  })
  return onnx.ModelProto.encode(proto).finish()
}

const Type = onnx.AttributeProto.AttributeType
const utf8 = new TextEncoder()

function ints(name: string, values: number[]): onnxProto.onnx.IAttributeProto {
  return { name, type: Type.INTS, ints: values }
}
function int(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return { name, type: Type.INT, i: value }
}
function floats(name: string, values: number[]): onnxProto.onnx.IAttributeProto {
  return { name, type: Type.FLOATS, floats: values }
}
function string(name: string, value: string): onnxProto.onnx.IAttributeProto {
  return { name, type: Type.STRING, s: utf8.encode(value) }
}
function strings(name: string, values: string[]): onnxProto.onnx.IAttributeProto {
  return { name, type: Type.STRINGS, strings: values.map((v) => utf8.encode(v)) }
}

/** A float32 tensor value; string dimensions are symbolic (the batch). */
function tensor(name: string, dims: (string | number)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  }
}
