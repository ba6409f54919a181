import { errors } from '@cairn/core'
import type pg from 'pg'
import { LatencySampleStore } from '../latency/latency-sample-store.js'
import { latencyModelName } from '../latency/plan-features.js'
import {
  type LatencyModelActivation,
  type RetrainLatencyModelOutcome,
  retrainLatencyModel,
} from '../latency/retrain-latency-model.js'
import { type LatencyTrainingResult, minTrainingRows, trainLatencyModel } from '../latency/train-latency-model.js'
import { ModelRegistry, type ModelVersion } from './model-registry.js'

/** What `cairn models` can train, by registry name. */
export const trainableModels = [latencyModelName] as const

/** `cairn models list`: every version, newest first per name (bytes left out). */
export async function listModels(pool: pg.Pool, name?: string): Promise<ModelVersion[]> {
  return new ModelRegistry(pool).list(name)
}

/** `cairn models activate <version>`: makes it the one active version; the running agent picks it up on its next poll. */
export async function activateModel(pool: pg.Pool, name: string, version: number): Promise<ModelVersion> {
  return new ModelRegistry(pool).activate(name, version)
}

export interface TrainModelNowOptions {
  /** Default `if-not-worse` (as the agent does); `always` or `never` to decide yourself. */
  readonly activation?: LatencyModelActivation
  /** Newest stored samples trained on. Default 20 000. */
  readonly maxTrainingSamples?: number
  /**
   * Runs the training; default in this process (a CLI has no event loop to
   * protect). Pass `(input) => workers.run({ module, name: 'trainLatencyModel', input })` to use a worker.
   */
  readonly train?: (input: Parameters<typeof trainLatencyModel>[0]) => Promise<LatencyTrainingResult>
}

/**
 * `cairn models train <model>`: trains a new version from the stored samples
 * now, registers it, and activates it as `activation` says. Refuses an unknown
 * model with CAIRN_ERR_MODEL_NOT_FOUND and too few samples with CAIRN_ERR_MODEL_NOT_TRAINABLE.
 */
export async function trainModelNow(
  pool: pg.Pool,
  name: string,
  options: TrainModelNowOptions = {},
): Promise<RetrainLatencyModelOutcome> {
  if (!(trainableModels as readonly string[]).includes(name))
    throw errors.MODEL_NOT_FOUND(
      `cannot train model ${JSON.stringify(name)}: trainable models are ${trainableModels.join(', ')}`,
    )
  const samples = new LatencySampleStore(pool)
  const stored = await samples.count()
  if (stored < minTrainingRows)
    throw errors.MODEL_NOT_TRAINABLE(
      `cannot train model ${name}: ${stored} samples are stored in cairn_meta.latency_samples, ${minTrainingRows} needed (the latency-predictor agent collects them)`,
    )
  return retrainLatencyModel({
    registry: new ModelRegistry(pool),
    samples,
    name,
    train: options.train ?? (async (input) => trainLatencyModel(input)),
    ...(options.activation ? { activation: options.activation } : {}),
    ...(options.maxTrainingSamples ? { maxTrainingSamples: options.maxTrainingSamples } : {}),
  })
}
