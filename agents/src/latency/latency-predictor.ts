import type { ReadOnlyDb } from '@cairn/plugins'
import type pg from 'pg'
import { ModelRegistry } from '../models/model-registry.js'
import { OnnxLatencyModel } from './onnx-latency-model.js'
import {
  describePlan,
  explainPlan,
  latencyModelName,
  type PlanNode,
  type PlanSample,
  planFeatureNames,
  type StatementColumns,
} from './plan-features.js'
import { RelationSizes } from './relation-sizes.js'

export interface LatencyPrediction {
  /** Predicted latency, milliseconds. */
  readonly ms: number
  /** Registry version of the model that predicted it. */
  readonly modelVersion: number
}

export interface PlannedLatencyPrediction extends LatencyPrediction {
  readonly plan: PlanSample
}

/** The model in use, as the registry describes it. */
export interface ActiveLatencyModel {
  readonly version: number
  readonly createdAt: Date
  readonly algorithm: string
  readonly metrics: Record<string, unknown>
}

export interface LatencyPredictorOptions {
  /** Reads `cairn_meta.models`. */
  readonly pool: pg.Pool
  readonly modelName?: string
  /** EXPLAINs in flight at once, across all callers. Default 2. */
  readonly maxConcurrentExplains?: number
  readonly relationSizes?: RelationSizes
}

interface LoadedModel {
  readonly model: OnnxLatencyModel
  readonly info: ActiveLatencyModel
  inFlight: number
  retired: boolean
}

/**
 * Predicts how long a SELECT will take, before it runs: EXPLAIN (planned, never
 * executed) → plan features → the active ONNX model. Other agents call
 * `predict`; the latency agent attaches its read-only db and keeps the model
 * current with `refresh`. Answers undefined while no model is active.
 */
export class LatencyPredictor {
  readonly modelName: string
  readonly relationSizes: RelationSizes
  readonly #registry: ModelRegistry
  readonly #maxExplains: number
  #db: ReadOnlyDb | undefined
  #loaded: LoadedModel | undefined
  #explaining = 0
  #refreshing: Promise<unknown> = Promise.resolve()
  readonly #waiting: (() => void)[] = []

  constructor({
    pool,
    modelName = latencyModelName,
    maxConcurrentExplains = 2,
    relationSizes,
  }: LatencyPredictorOptions) {
    this.modelName = modelName
    this.#registry = new ModelRegistry(pool)
    this.#maxExplains = Math.max(1, maxConcurrentExplains)
    this.relationSizes = relationSizes ?? new RelationSizes()
  }

  /** Where EXPLAIN runs: the agent's read-only db. Until attached, predictions are undefined. */
  attach(db: ReadOnlyDb): void {
    this.#db = db
  }

  /** Stops predicting and releases the model (once predictions in flight are done). */
  async detach(): Promise<void> {
    this.#db = undefined
    const loaded = this.#loaded
    this.#loaded = undefined
    if (loaded) await this.#retire(loaded)
  }

  get model(): ActiveLatencyModel | undefined {
    return this.#loaded?.info
  }

  /**
   * Loads the active version when it differs from the one in use (or drops the
   * model when none is active any more). Cheap when nothing changed: one small query.
   */
  async refresh(): Promise<{ changed: boolean; version?: number; previous?: number }> {
    // One at a time: a poll and a fresh activation must not load the same version twice.
    const next = this.#refreshing.then(
      () => this.#refresh(),
      () => this.#refresh(),
    )
    this.#refreshing = next
    return next
  }

  async #refresh(): Promise<{ changed: boolean; version?: number; previous?: number }> {
    const previous = this.#loaded?.info.version
    const version = await this.#registry.activeVersion(this.modelName)
    if (version === previous) return { changed: false, ...(version !== undefined ? { version } : {}) }
    const artifact = version === undefined ? undefined : await this.#registry.load(this.modelName, version)
    let next: LoadedModel | undefined
    if (artifact) {
      const model = await OnnxLatencyModel.load(artifact.onnx, {
        featureCount: artifact.featureNames.length,
        output: artifact.output,
        name: this.modelName,
        version: artifact.version,
      })
      const info = {
        version: artifact.version,
        createdAt: artifact.createdAt,
        algorithm: artifact.algorithm,
        metrics: artifact.metrics,
      }
      next = { model, info, inFlight: 0, retired: false }
    }
    const old = this.#loaded
    this.#loaded = next
    if (old) await this.#retire(old)
    return {
      changed: true,
      ...(next ? { version: next.info.version } : {}),
      ...(previous !== undefined ? { previous } : {}),
    }
  }

  /** EXPLAIN a statement (never run) and turn its plan into features; at most `maxConcurrentExplains` at once. */
  async explain(
    text: string,
    params?: readonly (string | null)[],
    columns?: StatementColumns,
    clusterId?: number,
  ): Promise<PlanSample> {
    const db = this.#db
    if (!db) throw new Error('the latency predictor is not attached to a database')
    await this.#acquire()
    try {
      const plan = await explainPlan(db, text, params)
      return await describePlan(db, this.relationSizes, plan, context(columns, clusterId))
    } finally {
      this.#release()
    }
  }

  /** Predicts from a row of plan features (in the order of `planFeatureNames`). */
  async predictFeatures(features: readonly number[]): Promise<LatencyPrediction | undefined> {
    const loaded = this.#loaded
    if (!loaded || features.length !== planFeatureNames.length) return undefined
    loaded.inFlight++
    try {
      const [ms] = await loaded.model.predictMs([features])
      return ms === undefined ? undefined : { ms, modelVersion: loaded.info.version }
    } finally {
      loaded.inFlight--
      if (loaded.retired && loaded.inFlight === 0) await loaded.model.release()
    }
  }

  /**
   * How long a statement would take: its `$n` parameters as text, the columns
   * its QueryEvent reports (for the column-count features), and its workload
   * cluster when known. Undefined when no model is active or the predictor is
   * not attached; EXPLAIN's errors (bad SQL) are thrown.
   */
  async predict(
    text: string,
    params?: readonly (string | null)[],
    columns?: StatementColumns,
    clusterId?: number,
  ): Promise<PlannedLatencyPrediction | undefined> {
    if (!this.#loaded || !this.#db) return undefined
    const plan = await this.explain(text, params, columns, clusterId)
    const prediction = await this.predictFeatures(plan.features)
    return prediction && { ...prediction, plan }
  }

  /**
   * The same for a plan the caller explained itself (`EXPLAIN (FORMAT JSON, VERBOSE)`'s
   * `Plan`), e.g. with a hypothetical index in place.
   */
  async predictPlan(
    plan: PlanNode,
    columns?: StatementColumns,
    clusterId?: number,
  ): Promise<PlannedLatencyPrediction | undefined> {
    const db = this.#db
    if (!this.#loaded || !db) return undefined
    const sample = await describePlan(db, this.relationSizes, plan, context(columns, clusterId))
    const prediction = await this.predictFeatures(sample.features)
    return prediction && { ...prediction, plan: sample }
  }

  async #retire(loaded: LoadedModel): Promise<void> {
    loaded.retired = true
    if (loaded.inFlight === 0) await loaded.model.release()
  }

  async #acquire(): Promise<void> {
    if (this.#explaining < this.#maxExplains) {
      this.#explaining++
      return
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  #release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#explaining--
  }
}

function context(columns?: StatementColumns, clusterId?: number) {
  return { ...(columns ? { columns } : {}), ...(clusterId !== undefined ? { clusterId } : {}) }
}
