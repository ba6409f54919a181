import { median, quantile } from './quantile.js'

/** The per-interval numbers a fingerprint's baseline is the median of. */
export interface IntervalSummary {
  readonly start: number
  /** Null when nothing succeeded in the interval. */
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  readonly qps: number
  readonly errorRate: number
  readonly meanRows: number | null
  /** Null when no statement looked the result cache up. */
  readonly cacheHitRate: number | null
}

/** What a fingerprint usually does: medians over its recent intervals. */
export interface Baseline {
  /** Intervals it is formed from. */
  readonly intervals: number
  readonly p50Ms: number | null
  /** The 90th percentile of its interval p50s: how slow an ordinary interval of it can be. */
  readonly p50HighMs: number | null
  readonly p95Ms: number | null
  readonly qps: number
  readonly errorRate: number
  readonly meanRows: number | null
  readonly cacheHitRate: number | null
}

export interface FingerprintBaselinesOptions {
  /** Recent intervals per fingerprint the medians are taken over. */
  window?: number
  /** Intervals a fingerprint needs before it has a baseline. */
  minIntervals?: number
  /** Fingerprints remembered; the least recently seen are forgotten first. */
  maxFingerprints?: number
}

/**
 * Rolling baselines per fingerprint. Medians, so a short anomaly does not move
 * them, while a lasting change becomes the new normal once it fills half the window.
 */
export class FingerprintBaselines {
  readonly window: number
  readonly minIntervals: number
  readonly #maxFingerprints: number
  /** Insertion order is recency: a fingerprint is moved to the end when recorded. */
  readonly #history = new Map<string, IntervalSummary[]>()

  constructor({ window = 20, minIntervals = 3, maxFingerprints = 5000 }: FingerprintBaselinesOptions = {}) {
    this.window = window
    this.minIntervals = minIntervals
    this.#maxFingerprints = maxFingerprints
  }

  /** The baseline from the intervals recorded so far, or null while it is still forming. */
  baseline(fingerprint: string): Baseline | null {
    const h = this.#history.get(fingerprint)
    if (!h || h.length < this.minIntervals) return null
    return {
      intervals: h.length,
      p50Ms: median(h.map((s) => s.p50Ms)),
      p50HighMs: quantile(
        h.map((s) => s.p50Ms),
        0.9,
      ),
      p95Ms: median(h.map((s) => s.p95Ms)),
      qps: median(h.map((s) => s.qps)) ?? 0,
      errorRate: median(h.map((s) => s.errorRate)) ?? 0,
      meanRows: median(h.map((s) => s.meanRows)),
      cacheHitRate: median(h.map((s) => s.cacheHitRate)),
    }
  }

  /** Intervals recorded for a fingerprint (up to the window). */
  intervals(fingerprint: string): number {
    return this.#history.get(fingerprint)?.length ?? 0
  }

  record(fingerprint: string, summary: IntervalSummary): void {
    const h = this.#history.get(fingerprint) ?? []
    this.#history.delete(fingerprint)
    h.push(summary)
    if (h.length > this.window) h.splice(0, h.length - this.window)
    this.#history.set(fingerprint, h)
    if (this.#history.size > this.#maxFingerprints) {
      const oldest = this.#history.keys().next().value
      if (oldest !== undefined) this.#history.delete(oldest)
    }
  }

  get size(): number {
    return this.#history.size
  }
}
