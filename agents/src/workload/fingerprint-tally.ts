import type { QueryEvent, StatementKind } from '@cairn/core'

/** One query template as the clusterer sees it: what it is and how it ran. Structured-cloneable. */
export interface FingerprintProfile {
  readonly fingerprint: string
  readonly normalizedText: string
  /** One statement as sent (literals included), when short enough to keep: it always parses. */
  readonly text?: string
  readonly kind: StatementKind
  readonly relations: readonly string[]
  readonly columns: readonly { readonly role: 'predicate' | 'join' | 'groupBy' | 'orderBy' }[]
  /** Statements in the window. */
  readonly executions: number
  /** Mean and median of ln(1 + rows), and mean of ln(1 + ms), over the statements that succeeded. */
  readonly meanLogRows: number
  readonly medianLogRows: number
  readonly meanLogDurationMs: number
  readonly ratePerHour: number
  /** (σ − μ) / (σ + μ) of the inter-arrival times: −1 periodic, 0 Poisson, toward 1 bursty. */
  readonly burstiness: number
}

/** A fingerprint's history as read from `cairn_meta.query_events`, before the agent started. */
export interface FingerprintHistory {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly text?: string
  readonly kind: StatementKind
  readonly relations: readonly string[]
  readonly columns: readonly { readonly role: 'predicate' | 'join' | 'groupBy' | 'orderBy' }[]
  readonly executions: number
  readonly meanLogRows: number
  readonly medianLogRows: number
  readonly meanLogDurationMs: number
  readonly gapMeanMs: number
  readonly gapStdMs: number
  readonly firstAt: number
  readonly lastAt: number
  /** [bucket index (epoch ms / bucket ms, floored), statements]. */
  readonly buckets: readonly (readonly [number, number])[]
}

/** A running mean, mergeable with another. */
class RunningMean {
  n = 0
  mean = 0
  add(x: number): void {
    this.n++
    this.mean += (x - this.mean) / this.n
  }
  merge(n: number, mean: number): void {
    if (n <= 0) return
    this.n += n
    this.mean += ((mean - this.mean) * n) / this.n
  }
}

interface Entry {
  fingerprint: string
  normalizedText: string
  text: string | undefined
  kind: StatementKind
  relations: readonly string[]
  columns: readonly { readonly role: 'predicate' | 'join' | 'groupBy' | 'orderBy' }[]
  rows: RunningMean
  duration: RunningMean
  /** The last few ln(1 + rows), for the median. */
  recentLogRows: number[]
  /** The last few arrival times, sorted when read: events may come slightly out of order. */
  recentArrivals: number[]
  historyMedianLogRows: number | undefined
  historyBurstiness: number | undefined
  lastAt: number
  buckets: Map<number, number>
}

/** Enough recent values for a stable median; a fixed cost per fingerprint. */
const RECENT = 64
/** Longer statements (bulk INSERTs) keep only their normalized text. */
const MAX_TEXT = 20_000

export interface FingerprintTallyOptions {
  bucketMs: number
  /** Buckets kept, and the window that profiles and arrival series cover. */
  windowBuckets: number
  /** Fingerprints tracked at most; the least executed go first. */
  maxTracked: number
}

/**
 * Per-fingerprint statistics, accumulated in O(1) per event on the agent's
 * event path: running means of rows and duration, the last few row counts and
 * arrival times (for the median and the burstiness), and arrivals per bucket.
 */
export class FingerprintTally {
  readonly #entries = new Map<string, Entry>()
  readonly #options: FingerprintTallyOptions
  /** The earliest bucket with data: where arrival series start. */
  #firstBucket: number | undefined
  /** Live events before this were read from history already. */
  #liveSince = Number.NEGATIVE_INFINITY

  constructor(options: FingerprintTallyOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#entries.size
  }

  /** Events that arrived before `at` are left to the history. */
  countLiveFrom(at: number): void {
    this.#liveSince = at
  }

  add(event: QueryEvent): void {
    if (event.at < this.#liveSince) return
    let entry = this.#entries.get(event.fingerprint)
    if (!entry) {
      // Bounded between prunes: a flood of one-off statements cannot grow it without end.
      if (this.#entries.size >= this.#options.maxTracked * 2) return
      entry = this.#entry(event)
      this.#entries.set(event.fingerprint, entry)
    }
    if (entry.text === undefined && event.text && event.text.length <= MAX_TEXT) entry.text = event.text
    entry.recentArrivals.push(event.at)
    if (entry.recentArrivals.length > RECENT) entry.recentArrivals.shift()
    entry.lastAt = Math.max(entry.lastAt, event.at)
    if (!event.sqlstate) {
      const logRows = Math.log1p(Math.max(0, event.rows))
      entry.rows.add(logRows)
      entry.duration.add(Math.log1p(Math.max(0, event.durationMs)))
      entry.recentLogRows.push(logRows)
      if (entry.recentLogRows.length > RECENT) entry.recentLogRows.shift()
    }
    const bucket = Math.floor(event.at / this.#options.bucketMs)
    entry.buckets.set(bucket, (entry.buckets.get(bucket) ?? 0) + 1)
    if (this.#firstBucket === undefined || bucket < this.#firstBucket) this.#firstBucket = bucket
  }

  /** Adds what `cairn_meta.query_events` holds from before the agent started. */
  seed(history: readonly FingerprintHistory[]): void {
    for (const h of history) {
      let entry = this.#entries.get(h.fingerprint)
      if (!entry) {
        entry = this.#entry(h)
        this.#entries.set(h.fingerprint, entry)
      }
      entry.text ??= h.text && h.text.length <= MAX_TEXT ? h.text : undefined
      entry.rows.merge(h.executions, h.meanLogRows)
      entry.duration.merge(h.executions, h.meanLogDurationMs)
      entry.historyMedianLogRows = h.medianLogRows
      entry.historyBurstiness = h.executions >= 3 ? burstiness(h.gapMeanMs, h.gapStdMs) : undefined
      entry.lastAt = Math.max(entry.lastAt, h.lastAt)
      for (const [bucket, n] of h.buckets) {
        entry.buckets.set(bucket, (entry.buckets.get(bucket) ?? 0) + n)
        if (this.#firstBucket === undefined || bucket < this.#firstBucket) this.#firstBucket = bucket
      }
    }
  }

  /** Drops buckets older than the window, fingerprints with nothing left in it, and the least executed beyond the cap. */
  prune(now: number): void {
    const oldest = this.#oldestBucket(now)
    for (const [fp, entry] of this.#entries) {
      for (const bucket of entry.buckets.keys()) if (bucket < oldest) entry.buckets.delete(bucket)
      if (entry.buckets.size === 0) this.#entries.delete(fp)
    }
    if (this.#firstBucket !== undefined && this.#firstBucket < oldest) this.#firstBucket = oldest
    if (this.#entries.size > this.#options.maxTracked) {
      const ranked = [...this.#entries.values()].sort((a, b) => executions(b) - executions(a))
      for (const entry of ranked.slice(this.#options.maxTracked)) this.#entries.delete(entry.fingerprint)
    }
  }

  /** Every tracked fingerprint with statements in the window, sorted by fingerprint. */
  profiles(now: number): FingerprintProfile[] {
    const oldest = this.#oldestBucket(now)
    const from = Math.max(oldest, this.#firstBucket ?? oldest)
    const hours = Math.max(1, now / this.#options.bucketMs - from) * (this.#options.bucketMs / 3_600_000)
    const out: FingerprintProfile[] = []
    for (const entry of this.#entries.values()) {
      let n = 0
      for (const [bucket, count] of entry.buckets) if (bucket >= oldest) n += count
      if (n === 0) continue
      const recent = entry.recentLogRows
      const median =
        recent.length >= 8 || entry.historyMedianLogRows === undefined ? medianOf(recent) : entry.historyMedianLogRows
      const arrivals = entry.recentArrivals
      const bursts =
        arrivals.length >= 8 || entry.historyBurstiness === undefined ? burstinessOf(arrivals) : entry.historyBurstiness
      out.push({
        fingerprint: entry.fingerprint,
        normalizedText: entry.normalizedText,
        ...(entry.text === undefined ? {} : { text: entry.text }),
        kind: entry.kind,
        relations: entry.relations,
        columns: entry.columns,
        executions: n,
        meanLogRows: entry.rows.mean,
        medianLogRows: median,
        meanLogDurationMs: entry.duration.mean,
        ratePerHour: n / hours,
        burstiness: bursts,
      })
    }
    return out.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0))
  }

  /**
   * Arrivals per bucket of each fingerprint, over complete buckets only: from the
   * first bucket with data (at most a window back) to the one before `now`'s.
   */
  arrivalCounts(fingerprints: Iterable<string>, now: number): { firstBucket: number; counts: number[] } {
    const last = Math.floor(now / this.#options.bucketMs) - 1
    const first = Math.max(this.#oldestBucket(now), this.#firstBucket ?? last + 1)
    const counts = new Array<number>(Math.max(0, last - first + 1)).fill(0)
    for (const fp of fingerprints) {
      const entry = this.#entries.get(fp)
      if (!entry) continue
      for (const [bucket, n] of entry.buckets) {
        if (bucket >= first && bucket <= last) counts[bucket - first] = (counts[bucket - first] ?? 0) + n
      }
    }
    return { firstBucket: first, counts }
  }

  #oldestBucket(now: number): number {
    return Math.floor(now / this.#options.bucketMs) - this.#options.windowBuckets
  }

  #entry(from: Omit<FingerprintHistory, 'buckets'> | QueryEvent): Entry {
    return {
      fingerprint: from.fingerprint,
      normalizedText: from.normalizedText,
      text: from.text && from.text.length <= MAX_TEXT ? from.text : undefined,
      kind: from.kind,
      relations:
        'relationsRead' in from ? [...new Set([...from.relationsRead, ...from.relationsWritten])] : from.relations,
      columns: from.columns.map((c) => ({ role: c.role })),
      rows: new RunningMean(),
      duration: new RunningMean(),
      recentLogRows: [],
      recentArrivals: [],
      historyMedianLogRows: undefined,
      historyBurstiness: undefined,
      lastAt: Number.NEGATIVE_INFINITY,
      buckets: new Map(),
    }
  }
}

function executions(entry: Entry): number {
  let n = 0
  for (const count of entry.buckets.values()) n += count
  return n
}

/** (σ − μ) / (σ + μ) of the gaps between arrivals; 0 (Poisson-like) with fewer than three arrivals. */
function burstinessOf(arrivals: readonly number[]): number {
  if (arrivals.length < 3) return 0
  const sorted = [...arrivals].sort((a, b) => a - b)
  const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number))
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length
  const std = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length)
  return burstiness(mean, std)
}

function burstiness(mean: number, std: number): number {
  return std + mean > 0 ? (std - mean) / (std + mean) : 0
}

function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
