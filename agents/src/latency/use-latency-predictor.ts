import type { Finding, QueryEvent } from '@cairn/core'
import { type Agent, type AgentContext, defineAgent } from '@cairn/plugins'
import type pg from 'pg'
import { workerModule } from '../host/worker-module.js'
import { ModelRegistry } from '../models/model-registry.js'
import type { GradientBoostedTreesOptions } from './gradient-boosted-trees.js'
import { LatencyPredictor } from './latency-predictor.js'
import { type LatencySample, LatencySampleStore } from './latency-sample-store.js'
import { LiveAccuracy } from './live-accuracy.js'
import { latencyModelName } from './plan-features.js'
import { formatQError } from './q-error.js'
import { retrainLatencyModel } from './retrain-latency-model.js'
import { TokenBucket } from './token-bucket.js'
import type { LatencyTrainingInput, LatencyTrainingResult } from './train-latency-model.js'

export interface UseLatencyPredictorOptions {
  /** A writable pool for `cairn_meta.models` and `cairn_meta.latency_samples`. */
  readonly pool: pg.Pool
  /** Registry name of the model. Default `latency`. */
  readonly modelName?: string
  /** SELECTs explained and stored per second at most; the rest are skipped. Default 2. */
  readonly sampleRatePerSecond?: number
  /** Sampled statements waiting for their EXPLAIN at most; more are dropped. Default 64. */
  readonly queueCap?: number
  /** New samples needed before a (re)training. Default 200. */
  readonly minSamples?: number
  /** Retrain on this schedule (given enough new samples). Default 6 hours. */
  readonly retrainIntervalMs?: number
  /** How often to decide whether to train. Default 1 minute. */
  readonly retrainCheckMs?: number
  /** Retrain early when the live median q-error exceeds this. Default 2. */
  readonly driftQError?: number
  /** Live predictions needed before drift is judged. Default 30. */
  readonly minLiveObservations?: number
  /** How often to look for a version activated elsewhere (`cairn models activate`). Default 30 s. */
  readonly registryPollMs?: number
  /** How often to publish `latency.accuracy`. Default 15 minutes. */
  readonly accuracyIntervalMs?: number
  /** Live predictions the accuracy is computed over. Default 500. */
  readonly liveWindow?: number
  /** Samples kept in `cairn_meta.latency_samples`. Default 50 000. */
  readonly maxSamples?: number
  /** Newest samples a training uses. Default 20 000. */
  readonly maxTrainingSamples?: number
  /** Samples buffered before they are written. Default 50. */
  readonly flushEvery?: number
  /** The workload cluster of a statement, when a clusterer knows it (the `cluster_id` feature; -1 otherwise). */
  readonly clusterOf?: (event: QueryEvent) => number | undefined
  readonly trees?: GradientBoostedTreesOptions
}

/** The agent, plus the predictor other agents ask for predictions. */
export type LatencyPredictorAgent = Agent & { readonly predictor: LatencyPredictor }

const HOUR_MS = 3_600_000
/** Statements per changed fingerprint sampled past the rate limit after a verdict. */
const PRIORITY_SAMPLES = 20
/** Samples taken after a change before it triggers a retraining. */
const CHANGE_SAMPLES = 30
const FAILURE_BACKOFF_MS = 15 * 60_000

/**
 * The latency predictor: samples successful SELECTs (rate-limited, off the
 * hot path), EXPLAINs them into plan features, stores (features, measured ms),
 * scores the active model live, retrains in a worker when there are enough new
 * samples and the model is missing, due, or drifting, and activates a new
 * version only when it is not worse on the same held-out rows.
 */
export function useLatencyPredictor({
  pool,
  modelName = latencyModelName,
  sampleRatePerSecond = 2,
  queueCap = 64,
  minSamples = 200,
  retrainIntervalMs = 6 * HOUR_MS,
  retrainCheckMs = 60_000,
  driftQError = 2,
  minLiveObservations = 30,
  registryPollMs = 30_000,
  accuracyIntervalMs = 15 * 60_000,
  liveWindow = 500,
  maxSamples = 50_000,
  maxTrainingSamples = 20_000,
  flushEvery = 50,
  clusterOf,
  trees,
}: UseLatencyPredictorOptions): LatencyPredictorAgent {
  const predictor = new LatencyPredictor({ pool, modelName })
  let run: PredictorRun | undefined

  const agent = defineAgent({
    meta: {
      name: 'latency-predictor',
      version: '1.0.0',
      description: 'Predicts SELECT latency from EXPLAIN plans with a gradient-boosted ONNX model it retrains',
    },
    async start(ctx) {
      predictor.attach(ctx.db)
      const current = new PredictorRun(ctx, predictor, {
        pool,
        modelName,
        sampleRatePerSecond,
        queueCap,
        minSamples,
        retrainIntervalMs,
        driftQError,
        minLiveObservations,
        liveWindow,
        maxSamples,
        maxTrainingSamples,
        flushEvery,
        clusterOf,
        trees,
      })
      try {
        await current.begin()
      } catch (err) {
        await predictor.detach()
        throw err
      }
      run = current
      // Feedback from the loop: a kept or rolled-back change alters the plans of its fingerprints.
      const verdicts = ctx.findings$.subscribe((f) => {
        if (f.kind === 'action.kept' || f.kind === 'action.rolled_back') current.noteChange(f)
      })
      ctx.signal.addEventListener('abort', () => verdicts.unsubscribe(), { once: true })
      const timers = [
        setInterval(() => void current.pollRegistry(), registryPollMs),
        setInterval(() => void current.considerTraining(), retrainCheckMs),
        setInterval(() => current.publishAccuracy(), accuracyIntervalMs),
      ]
      for (const t of timers) t.unref()
      const stop = () => timers.forEach(clearInterval)
      ctx.signal.addEventListener('abort', stop, { once: true })
      return async () => {
        stop()
        if (run === current) run = undefined
        await current.end()
        await predictor.detach()
      }
    },
    onResult(event) {
      run?.offer(event)
    },
  })
  return Object.freeze({ ...agent, predictor })
}

interface RunSettings {
  readonly pool: pg.Pool
  readonly modelName: string
  readonly sampleRatePerSecond: number
  readonly queueCap: number
  readonly minSamples: number
  readonly retrainIntervalMs: number
  readonly driftQError: number
  readonly minLiveObservations: number
  readonly liveWindow: number
  readonly maxSamples: number
  readonly maxTrainingSamples: number
  readonly flushEvery: number
  readonly clusterOf: ((event: QueryEvent) => number | undefined) | undefined
  readonly trees: GradientBoostedTreesOptions | undefined
}

/** One start of the agent: its queue, buffers and counters. A restart begins a new one. */
class PredictorRun {
  readonly #ctx: AgentContext
  readonly #predictor: LatencyPredictor
  readonly #s: RunSettings
  readonly #registry: ModelRegistry
  readonly #store: LatencySampleStore
  readonly #bucket: TokenBucket
  readonly #live: LiveAccuracy
  readonly #queue: QueryEvent[] = []
  #pending: LatencySample[] = []
  #draining: Promise<void> = Promise.resolve()
  #running = false
  #training = false
  #retryAfter = 0
  #lastDecline: string | undefined
  #ownActivation: number | undefined
  /** Fingerprints whose plans a change just altered, and how many of their statements are still sampled past the rate limit. */
  readonly #priority = new Map<string, number>()
  /** The latest change the loop kept or rolled back, and when: a reason to retrain once its statements were sampled. */
  #change: { at: number; what: string } | undefined
  readonly counts = { sampled: 0, skippedByRate: 0, droppedQueueFull: 0, explainFailures: 0, stored: 0 }

  constructor(ctx: AgentContext, predictor: LatencyPredictor, settings: RunSettings) {
    this.#ctx = ctx
    this.#predictor = predictor
    this.#s = settings
    this.#registry = new ModelRegistry(settings.pool)
    this.#store = new LatencySampleStore(settings.pool, { maxSamples: settings.maxSamples })
    this.#bucket = new TokenBucket(settings.sampleRatePerSecond)
    this.#live = new LiveAccuracy(settings.liveWindow)
  }

  async begin(): Promise<void> {
    const { version } = await this.#predictor.refresh()
    this.#ctx.log.info({ model: this.#s.modelName, version }, 'latency predictor started')
  }

  /** Stops sampling: what still waits for its EXPLAIN is dropped, what was measured is written. */
  async end(): Promise<void> {
    this.#queue.length = 0
    await this.settled()
    await this.#flush()
  }

  /**
   * A verdict of the optimization loop (`action.kept`, `action.rolled_back`): the statements of
   * its fingerprints are sampled past the rate limit for a while, so the model sees their new
   * plans, and the next training check retrains once enough of them were sampled.
   */
  noteChange(finding: Finding): void {
    const fingerprints = finding.evidence.affectedFingerprints
    if (!Array.isArray(fingerprints)) return
    for (const fp of fingerprints) if (typeof fp === 'string') this.#priority.set(fp, PRIORITY_SAMPLES)
    this.#change = {
      at: Date.now(),
      what: `${finding.kind.replace('action.', 'the loop ').replace('_', ' ')} ${String(finding.evidence.key ?? '')}`,
    }
  }

  /** Called for every event: cheap checks only, then the statement waits in a bounded queue for its EXPLAIN. */
  offer(event: QueryEvent): void {
    if (event.kind !== 'select' || event.sqlstate || !event.text || event.cache === 'hit') return
    const prioritized = this.#priority.get(event.fingerprint)
    if (prioritized !== undefined) {
      if (prioritized <= 1) this.#priority.delete(event.fingerprint)
      else this.#priority.set(event.fingerprint, prioritized - 1)
    } else if (!this.#bucket.take()) {
      this.counts.skippedByRate++
      return
    }
    if (this.#queue.length >= this.#s.queueCap) {
      this.counts.droppedQueueFull++
      return
    }
    this.#queue.push(event)
    if (!this.#running) this.#draining = this.#drain()
  }

  /** Resolves once every queued statement has been explained and its sample buffered (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#running) await this.#draining
  }

  async #drain(): Promise<void> {
    this.#running = true
    try {
      for (let event = this.#queue.shift(); event; event = this.#queue.shift()) {
        if (this.#ctx.signal.aborted) return
        try {
          await this.#observe(event)
        } catch (err) {
          this.counts.explainFailures++
          this.#ctx.log.debug({ err, fingerprint: event.fingerprint }, 'could not explain a sampled statement')
        }
      }
    } finally {
      // Cleared in the same turn the queue was found empty, so the next offer starts a new drain.
      this.#running = false
    }
  }

  async #observe(event: QueryEvent): Promise<void> {
    const clusterId = this.#s.clusterOf?.(event)
    const plan = await this.#predictor.explain(event.text as string, event.params, event.columns, clusterId)
    // What the plan decides is execution, not the wait for a pooled connection.
    const actualMs = Math.max(0, event.durationMs - event.poolWaitMs)
    const prediction = await this.#predictor.predictFeatures(plan.features)
    if (prediction)
      this.#live.record({
        at: event.at,
        fingerprint: event.fingerprint,
        modelVersion: prediction.modelVersion,
        predictedMs: prediction.ms,
        actualMs,
      })
    this.counts.sampled++
    this.#pending.push({
      at: new Date(event.at),
      fingerprint: event.fingerprint,
      features: plan.features,
      actualMs,
      planHash: plan.planHash,
      planShape: plan.planShape,
      ...(clusterId !== undefined ? { clusterId } : {}),
    })
    if (this.#pending.length >= this.#s.flushEvery) await this.#flush()
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return
    const batch = this.#pending
    this.#pending = []
    await this.#store.append(batch)
    this.counts.stored += batch.length
  }

  /** Loads a version activated elsewhere, and says so. */
  async pollRegistry(): Promise<void> {
    try {
      const change = await this.#predictor.refresh()
      if (!change.changed) return
      this.#live.reset()
      if (change.version !== undefined && change.version === this.#ownActivation) return
      const reason =
        change.version === undefined
          ? `No latency model version is active any more (v${change.previous} was deactivated), so predictions stop until one is.`
          : `Loaded latency model v${change.version}, activated in the registry${change.previous !== undefined ? ` in place of v${change.previous}` : ''}.`
      this.#ctx.publish({
        kind: 'latency.model',
        severity: 'info',
        reason,
        evidence: {
          event: 'loaded',
          model: this.#s.modelName,
          version: change.version ?? null,
          previousVersion: change.previous ?? null,
          metrics: this.#predictor.model?.metrics ?? null,
        },
      })
    } catch (err) {
      this.#ctx.log.warn({ err }, 'could not poll the model registry')
    }
  }

  /** Trains when there are enough new samples and the model is missing, due or drifting; otherwise says why not (once per reason). */
  async considerTraining(): Promise<void> {
    if (this.#training || Date.now() < this.#retryAfter) return
    this.#training = true
    try {
      await this.settled()
      await this.#flush()
      await this.#store.trim()
      const latest = await this.#registry.latest(this.#s.modelName)
      const since = latest ? (latest.trainedTo ?? latest.createdAt) : undefined
      const fresh = await this.#store.count(since)
      const model = this.#predictor.model
      const live = this.#live.summary()
      const evidence = {
        model: this.#s.modelName,
        activeVersion: model?.version ?? null,
        newSamples: fresh,
        minSamples: this.#s.minSamples,
        liveMedianQError: live.count > 0 ? live.median : null,
        liveObservations: live.count,
        driftQError: this.#s.driftQError,
      }
      if (fresh < this.#s.minSamples) {
        const after = latest ? `since v${latest.version} was trained` : 'so far'
        return this.#decline(
          'samples',
          `Did not train a latency model: ${fresh} new samples ${after}, ${this.#s.minSamples} needed.`,
          evidence,
        )
      }
      const ageMs = model ? Date.now() - model.createdAt.getTime() : Number.POSITIVE_INFINITY
      const change = this.#change
      if (
        model &&
        change &&
        change.at > model.createdAt.getTime() &&
        (await this.#store.count(new Date(change.at))) >= CHANGE_SAMPLES
      ) {
        this.#change = undefined
        return await this.#train(`${change.what} changed the plans it was trained on`, evidence)
      }
      const drifting = live.count >= this.#s.minLiveObservations && live.median > this.#s.driftQError
      if (model && ageMs < this.#s.retrainIntervalMs && !drifting) {
        const liveText =
          live.count > 0
            ? `its live median q-error ${formatQError(live.median)} over ${live.count} predictions is within ${this.#s.driftQError}`
            : 'it has no live predictions to judge yet'
        return this.#decline(
          'current',
          `Did not retrain latency model v${model.version}: it is ${duration(ageMs)} old (retrain every ${duration(this.#s.retrainIntervalMs)}) and ${liveText}.`,
          evidence,
        )
      }
      const why = !model
        ? 'no version was active'
        : drifting
          ? `the live median q-error ${formatQError(live.median)} passed ${this.#s.driftQError}`
          : `v${model.version} was ${duration(ageMs)} old`
      await this.#train(why, evidence)
    } catch (err) {
      this.#ctx.log.warn({ err }, 'latency model training failed')
      // Training is heavy: after a failure, wait before trying again.
      this.#retryAfter = Date.now() + FAILURE_BACKOFF_MS
      this.#decline(
        'failed',
        `Latency model training failed and is retried in ${duration(FAILURE_BACKOFF_MS)}: ${(err as Error).message}.`,
        { model: this.#s.modelName, event: 'failed' },
        'warning',
      )
    } finally {
      this.#training = false
    }
  }

  async #train(why: string, evidence: Record<string, unknown>): Promise<void> {
    this.#lastDecline = undefined
    const train = (input: LatencyTrainingInput) =>
      this.#ctx.workers.run<LatencyTrainingResult>({
        module: workerModule(import.meta.url, './train-latency-model.js'),
        name: 'trainLatencyModel',
        input,
      })
    const outcome = await retrainLatencyModel({
      registry: this.#registry,
      samples: this.#store,
      train,
      name: this.#s.modelName,
      maxTrainingSamples: this.#s.maxTrainingSamples,
      ...(this.#s.trees ? { trees: this.#s.trees } : {}),
    })
    if (outcome.activated) {
      this.#ownActivation = outcome.version.version
      await this.#predictor.refresh()
      this.#live.reset()
    }
    this.#ctx.publish({
      kind: 'latency.model',
      severity: 'info',
      reason: `${outcome.reason} Trained because ${why}.`,
      evidence: {
        ...evidence,
        event: outcome.activated ? 'activated' : 'trained',
        version: outcome.version.version,
        activated: outcome.activated,
        sampleCount: outcome.version.sampleCount,
        trainedFrom: outcome.version.trainedFrom?.toISOString() ?? null,
        trainedTo: outcome.version.trainedTo?.toISOString() ?? null,
        heldOut: outcome.metrics.heldOut,
        baseline: outcome.metrics.baseline?.heldOut ?? null,
        previous: outcome.previous ?? null,
        topFeatures: outcome.metrics.topFeatures,
      },
    })
  }

  /** Says why no model was trained, once per reason in a row, so a steady state does not repeat itself. */
  #decline(
    kind: string,
    reason: string,
    evidence: Record<string, unknown>,
    severity: 'info' | 'warning' = 'info',
  ): void {
    if (this.#lastDecline === kind) return
    this.#lastDecline = kind
    this.#ctx.publish({ kind: 'latency.model', severity, reason, evidence: { event: 'declined', ...evidence } })
  }

  /** The periodic `latency.accuracy` finding: live median and p90 q-error, and a few fingerprints' predicted vs actual. */
  publishAccuracy(): void {
    const model = this.#predictor.model
    const live = this.#live.summary()
    let reason: string
    let severity: 'info' | 'warning' = 'info'
    if (!model)
      reason = `No latency model is active, so there is no live accuracy to report (${this.counts.sampled} SELECTs sampled since start).`
    else if (live.count === 0)
      reason = `Latency model v${model.version} made no predictions to score: no SELECT was sampled since it was loaded.`
    else {
      const drifting = live.count >= this.#s.minLiveObservations && live.median > this.#s.driftQError
      if (drifting) severity = 'warning'
      reason = `Over the last ${live.count} sampled SELECTs, latency model v${model.version} had a median q-error of ${formatQError(live.median)} and a p90 of ${formatQError(live.p90)}${drifting ? `, past the drift threshold ${this.#s.driftQError}` : ''}.`
    }
    this.#ctx.publish({
      kind: 'latency.accuracy',
      severity,
      reason,
      evidence: {
        model: this.#s.modelName,
        version: model?.version ?? null,
        observations: live.count,
        medianQError: live.count > 0 ? live.median : null,
        p90QError: live.count > 0 ? live.p90 : null,
        meanQError: live.count > 0 ? live.mean : null,
        driftQError: this.#s.driftQError,
        examples: this.#live.examples(5),
        sampling: { ...this.counts, queued: this.#queue.length },
      },
    })
  }
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return 'forever'
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  if (ms < 2 * HOUR_MS) return `${Math.round(ms / 60_000)} min`
  return `${Math.round((ms / HOUR_MS) * 10) / 10} h`
}
