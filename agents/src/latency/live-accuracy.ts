import { type QErrorSummary, qError, summarizeQErrors } from './q-error.js'

export interface LiveObservation {
  readonly at: number
  readonly fingerprint: string
  readonly modelVersion: number
  readonly predictedMs: number
  readonly actualMs: number
}

export interface FingerprintAccuracy {
  readonly fingerprint: string
  readonly observations: number
  readonly medianPredictedMs: number
  readonly medianActualMs: number
  readonly medianQError: number
}

/** The active model's predictions against what the statements then took, over the last `window` sampled SELECTs. */
export class LiveAccuracy {
  readonly #window: number
  #observations: LiveObservation[] = []

  constructor(window = 500) {
    this.#window = Math.max(1, window)
  }

  record(observation: LiveObservation): void {
    this.#observations.push(observation)
    if (this.#observations.length > this.#window) this.#observations.splice(0, this.#observations.length - this.#window)
  }

  /** Forgets everything: a new model starts with a clean record. */
  reset(): void {
    this.#observations = []
  }

  get size(): number {
    return this.#observations.length
  }

  summary(): QErrorSummary {
    return summarizeQErrors(this.#observations.map((o) => qError(o.predictedMs, o.actualMs)))
  }

  /** The most-sampled fingerprints, each with its median predicted and actual latency. */
  examples(limit = 5): FingerprintAccuracy[] {
    const byFingerprint = new Map<string, LiveObservation[]>()
    for (const o of this.#observations) {
      const list = byFingerprint.get(o.fingerprint) ?? []
      list.push(o)
      byFingerprint.set(o.fingerprint, list)
    }
    return [...byFingerprint.entries()]
      .sort((a, b) => b[1].length - a[1].length)
      .slice(0, limit)
      .map(([fingerprint, list]) => ({
        fingerprint,
        observations: list.length,
        medianPredictedMs: round(median(list.map((o) => o.predictedMs))),
        medianActualMs: round(median(list.map((o) => o.actualMs))),
        medianQError: round(summarizeQErrors(list.map((o) => qError(o.predictedMs, o.actualMs))).median),
      }))
  }
}

function median(values: number[]): number {
  return summarizeQErrors(values).median
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}
