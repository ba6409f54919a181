import * as ort from 'onnxruntime-node'
import { qErrorFloorMs } from './q-error.js'

/** What a latency model's first output holds: ln(milliseconds) (Cairn's own models) or milliseconds. */
export type LatencyModelOutput = 'ln_ms' | 'ms'

export interface OnnxLatencyModelInfo {
  /** Features per row the model takes. */
  readonly featureCount: number
  readonly output?: LatencyModelOutput
  readonly name?: string
  readonly version?: number
}

/**
 * A latency model run by ONNX Runtime: rows of plan features in, milliseconds
 * out. Takes any ONNX model with one float32 [N, F] input and a first output
 * of N values, whatever their names, so models trained elsewhere run too.
 */
export class OnnxLatencyModel {
  readonly featureCount: number
  readonly output: LatencyModelOutput
  readonly name: string | undefined
  readonly version: number | undefined
  readonly #session: ort.InferenceSession

  private constructor(session: ort.InferenceSession, info: OnnxLatencyModelInfo) {
    this.#session = session
    this.featureCount = info.featureCount
    this.output = info.output ?? 'ln_ms'
    this.name = info.name
    this.version = info.version
  }

  /** Loads the model; one intra-op thread, since a batch of trees is microseconds of work. */
  static async load(bytes: Uint8Array, info: OnnxLatencyModelInfo): Promise<OnnxLatencyModel> {
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    })
    return new OnnxLatencyModel(session, info)
  }

  get inputName(): string {
    return this.#session.inputNames[0] as string
  }

  get outputName(): string {
    return this.#session.outputNames[0] as string
  }

  /** The raw first output for a batch, with its dimensions. */
  async run(rows: readonly ArrayLike<number>[]): Promise<{ values: number[]; dims: readonly number[] }> {
    const data = new Float32Array(rows.length * this.featureCount)
    rows.forEach((row, i) => {
      if (row.length !== this.featureCount)
        throw new RangeError(`row ${i} has ${row.length} features, the model takes ${this.featureCount}`)
      data.set(Array.from(row), i * this.featureCount)
    })
    const input = new ort.Tensor('float32', data, [rows.length, this.featureCount])
    const result = await this.#session.run({ [this.inputName]: input })
    const out = result[this.outputName] as ort.Tensor
    return { values: Array.from(out.data as Float32Array, Number), dims: out.dims }
  }

  /** ln(predicted milliseconds), one per row. */
  async predictLogMs(rows: readonly ArrayLike<number>[]): Promise<number[]> {
    if (rows.length === 0) return []
    const { values } = await this.run(rows)
    return this.output === 'ln_ms' ? values : values.map((ms) => Math.log(Math.max(ms, qErrorFloorMs)))
  }

  /** Predicted milliseconds, one per row. */
  async predictMs(rows: readonly ArrayLike<number>[]): Promise<number[]> {
    return (await this.predictLogMs(rows)).map(Math.exp)
  }

  async release(): Promise<void> {
    await this.#session.release()
  }
}
