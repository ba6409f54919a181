import onnxProto from 'onnx-proto'

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
const { onnx } = onnxProto

export interface OnnxTensorSignature {
  readonly name: string
  /** ONNX TensorProto.DataType, e.g. 1 for float32. */
  readonly elemType: number
  readonly elemTypeName: string
  /** Fixed sizes as numbers; symbolic (batch) dimensions by their name, or `?` when unnamed. */
  readonly dims: readonly (number | string)[]
}

export interface OnnxModelSignature {
  /** Graph inputs that are not initializers: what a caller must feed. */
  readonly inputs: readonly OnnxTensorSignature[]
  readonly outputs: readonly OnnxTensorSignature[]
  readonly opsets: readonly { readonly domain: string; readonly version: number }[]
  readonly producer: string
  readonly metadata: Readonly<Record<string, string>>
}

/** Reads a model's declared inputs and outputs from its bytes; throws when they are not an ONNX ModelProto with a graph. */
export function onnxModelSignature(bytes: Uint8Array): OnnxModelSignature {
  const model = onnx.ModelProto.decode(bytes)
  const graph = model.graph
  if (!graph) throw new TypeError('the bytes hold no ONNX graph')
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name))
  return {
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(tensorSignature),
    outputs: (graph.output ?? []).map(tensorSignature),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) })),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  }
}

function tensorSignature(value: onnxProto.onnx.IValueInfoProto): OnnxTensorSignature {
  const tensor = value.type?.tensorType
  const elemType = tensor?.elemType ?? 0
  return {
    name: value.name ?? '',
    elemType,
    elemTypeName: onnx.TensorProto.DataType[elemType] ?? (tensor ? 'UNDEFINED' : 'not a tensor'),
    dims: (tensor?.shape?.dim ?? []).map((d) => (toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : d.dimParam || '?')),
  }
}

/** protobufjs gives int64 fields as a Long when the `long` package is present, else as a number. */
function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0
  return typeof value === 'number' ? value : value.toNumber()
}
