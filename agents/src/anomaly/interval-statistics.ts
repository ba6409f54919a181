import type { QueryEvent } from '@cairn/core'

/** Latencies kept per (fingerprint, interval) for the percentiles; beyond it, a uniform reservoir. */
const RESERVOIR = 1024

/** What one fingerprint did in one interval, accumulated cheaply as its events arrive. */
export interface FingerprintInterval {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly relationsRead: readonly string[]
  executions: number
  errors: number
  /** Error count per SQLSTATE. */
  readonly sqlstates: Map<string, number>
  /** Durations of the statements that succeeded (a reservoir sample past RESERVOIR). */
  readonly durations: number[]
  succeeded: number
  rows: number
  /** Result cache answers (hit) and lookups that went to PostgreSQL (miss, bypass). */
  cacheHits: number
  cacheLookups: number
  /** The latest successful statement with its text: what is explained and predicted. */
  sample: QueryEvent | null
}

/** One closed interval: every fingerprint seen in `[start, end)`. */
export interface ClosedInterval {
  readonly start: number
  readonly end: number
  readonly fingerprints: readonly FingerprintInterval[]
}

export interface IntervalStatisticsOptions {
  intervalMs: number
  /** Fingerprints tracked per interval; further ones are counted as dropped. */
  maxFingerprints?: number
}

/**
 * Per-(fingerprint, interval) counters, fed one event at a time. Adding is O(1)
 * (the agent's `onResult` must stay cheap); closing hands back whole intervals.
 */
export class IntervalStatistics {
  readonly intervalMs: number
  readonly #maxFingerprints: number
  readonly #open = new Map<number, Map<string, FingerprintInterval>>()
  /** Start of the first interval still open: events before it arrived too late. */
  #closedUntil = Number.NEGATIVE_INFINITY
  lateEvents = 0
  droppedEvents = 0

  constructor({ intervalMs, maxFingerprints = 5000 }: IntervalStatisticsOptions) {
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be positive, got ${intervalMs}`)
    this.intervalMs = intervalMs
    this.#maxFingerprints = maxFingerprints
  }

  intervalStart(at: number): number {
    return Math.floor(at / this.intervalMs) * this.intervalMs
  }

  add(event: QueryEvent): void {
    const start = this.intervalStart(event.at)
    if (start < this.#closedUntil) {
      this.lateEvents++
      return
    }
    let interval = this.#open.get(start)
    if (!interval) {
      interval = new Map()
      this.#open.set(start, interval)
    }
    let f = interval.get(event.fingerprint)
    if (!f) {
      if (interval.size >= this.#maxFingerprints) {
        this.droppedEvents++
        return
      }
      f = {
        fingerprint: event.fingerprint,
        normalizedText: event.normalizedText,
        relationsRead: event.relationsRead,
        executions: 0,
        errors: 0,
        sqlstates: new Map(),
        durations: [],
        succeeded: 0,
        rows: 0,
        cacheHits: 0,
        cacheLookups: 0,
        sample: null,
      }
      interval.set(event.fingerprint, f)
    }
    f.executions++
    if (event.cache === 'hit') {
      f.cacheHits++
      f.cacheLookups++
    } else if (event.cache === 'miss' || event.cache === 'bypass') f.cacheLookups++
    if (event.sqlstate) {
      f.errors++
      f.sqlstates.set(event.sqlstate, (f.sqlstates.get(event.sqlstate) ?? 0) + 1)
      return
    }
    f.succeeded++
    f.rows += event.rows
    if (f.durations.length < RESERVOIR) f.durations.push(event.durationMs)
    else {
      const slot = Math.floor(Math.random() * f.succeeded)
      if (slot < RESERVOIR) f.durations[slot] = event.durationMs
    }
    if (event.text !== undefined || f.sample === null) f.sample = event
  }

  /** Closes, oldest first, every interval that ends at or before `until`. */
  closeUntil(until: number): ClosedInterval[] {
    const closed: ClosedInterval[] = []
    for (const [start, fingerprints] of this.#open) {
      if (start + this.intervalMs > until) continue
      closed.push({ start, end: start + this.intervalMs, fingerprints: [...fingerprints.values()] })
      this.#open.delete(start)
    }
    const boundary = this.intervalStart(until)
    if (boundary > this.#closedUntil) this.#closedUntil = boundary
    return closed.sort((a, b) => a.start - b.start)
  }
}
