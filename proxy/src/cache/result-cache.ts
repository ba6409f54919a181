import { randomInt } from 'node:crypto'
import { counter, histogram, type KeyValueCache, type Logger } from '@cairn/core'
import { LRUCache } from 'lru-cache'
import { type CacheEntry, decodeEntry, encodeEntry } from './cache-entry.js'

export type CacheOutcome = 'hit' | 'miss' | 'bypass' | 'uncacheable'

/** What the admission hook is asked about a result just read from PostgreSQL. */
export interface AdmissionCandidate {
  readonly key: string
  readonly relations: readonly string[]
  /** How long PostgreSQL took, as the proxy saw it. */
  readonly durationMs: number
  readonly bytes: number
  /** Whether this key missed before (recently): it repeats. */
  readonly seenBefore: boolean
}

export interface ResultCacheOptions {
  store: KeyValueCache
  /** Entries expire after this, whatever happens (a second line of defence). */
  ttlMs: number
  /** A shorter (or longer) TTL for entries reading a schema or schema.table; the smallest applies. */
  ttlByRelation?: Readonly<Record<string, number>>
  /**
   * Decides what is worth storing (the cache-manager agent will plug in here). Default: what cost
   * at least `admitMs` upstream, or repeats.
   */
  admit?: (candidate: AdmissionCandidate) => boolean
  /** For the default admission: results that took at least this long are stored at once. Default 0 (all). */
  admitMs?: number
  /** Larger results are not stored. */
  maxEntryBytes: number
  log: Logger
}

export type Lookup =
  | { readonly kind: 'hit'; readonly entry: CacheEntry }
  /** `versions` undefined: a relation had no version yet (new, or evicted), so this result must not be stored. */
  | { readonly kind: 'miss'; readonly versions: readonly number[] | undefined }
  | { readonly kind: 'bypass' }

/** Every entry also depends on this: bumped when a write's relations are unknown. */
export const ALL_RELATIONS = '*'
const versionKey = (relation: string) => `rv:${relation}`
/**
 * Versions are random, never counted: a version key evicted by Redis and created again
 * can then never come back to a value an old entry was stored with.
 */
const newVersion = () => Buffer.from(String(randomInt(1, 2 ** 48)))

const outcomes = counter({
  name: 'cairn_cache_lookups_total',
  help: 'Result cache lookups by outcome',
  labelNames: ['outcome'] as const,
})
const hitSeconds = histogram({
  name: 'cairn_cache_hit_seconds',
  help: 'Time to answer a statement from the result cache',
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
})
const storedBytes = counter({ name: 'cairn_cache_stored_bytes_total', help: 'Bytes written to the result cache' })
const invalidations = counter({
  name: 'cairn_cache_invalidations_total',
  help: 'Relation versions bumped, by where the write came from',
  labelNames: ['source'] as const,
})
const errors = counter({ name: 'cairn_cache_errors_total', help: 'Result cache store errors (the cache was bypassed)' })

/**
 * Results of read-only statements, keyed by everything that can change them,
 * valid while the version of every relation they read is unchanged. Versions
 * live beside the entries (one counter per relation), so a lookup is one MGET
 * of the entry and its versions, atomic in Redis. The store failing is a bypass,
 * never an error for the client.
 */
export class ResultCache {
  readonly #fills = new Map<string, Promise<CacheEntry | undefined>>()
  /** Keys that missed recently, for the default admission's "repeats". */
  readonly #seen = new LRUCache<string, true>({ max: 100_000 })
  /** An invalidation failed: until every entry is invalidated at once, nothing is served. */
  #mustInvalidateAll = false

  constructor(readonly options: ResultCacheOptions) {}

  /** One round trip: the entry and the current versions of its relations. */
  async lookup(key: string, relations: readonly string[]): Promise<Lookup> {
    let values: (Buffer | undefined)[]
    try {
      if (this.#mustInvalidateAll) {
        await this.options.store.set(versionKey(ALL_RELATIONS), newVersion())
        this.#mustInvalidateAll = false
        this.options.log.info('result cache reachable again: every entry invalidated')
      }
      values = await this.options.store.getMany([key, ...relations.map(versionKey)])
    } catch (err) {
      errors.inc()
      this.options.log.debug({ err }, 'result cache unavailable: bypassed')
      return { kind: 'bypass' }
    }
    let raw = values.slice(1)
    if (raw.some((v) => v === undefined)) {
      // First read of a relation (or its version was evicted): give it a version, then read them all again.
      try {
        await Promise.all(
          raw.map((v, i) =>
            v ? undefined : this.options.store.setIfAbsent(versionKey(relations[i] as string), newVersion()),
          ),
        )
        raw = await this.options.store.getMany(relations.map(versionKey))
      } catch {
        errors.inc()
      }
      if (raw.some((v) => v === undefined)) return { kind: 'miss', versions: undefined }
      return { kind: 'miss', versions: raw.map((v) => Number((v as Buffer).toString())) }
    }
    const versions = raw.map((v) => Number((v as Buffer).toString()))
    const entry = values[0] ? decodeEntry(values[0]) : undefined
    if (entry && entry.versions.length === versions.length && entry.versions.every((v, i) => v === versions[i])) {
      return { kind: 'hit', entry }
    }
    return { kind: 'miss', versions }
  }

  /** Counts what happened to a statement in the end (a miss answered by another session's read is a hit). */
  recordOutcome(outcome: CacheOutcome, hitMs?: number): void {
    outcomes.inc({ outcome })
    if (outcome === 'hit' && hitMs !== undefined) hitSeconds.observe(hitMs / 1000)
  }

  /** A fill in progress for this key (another session is reading it from PostgreSQL now). */
  pendingFill(key: string): Promise<CacheEntry | undefined> | undefined {
    return this.#fills.get(key)
  }

  /**
   * Announces that this session reads `key` from PostgreSQL; `done` with the entry (and how long
   * PostgreSQL took), or undefined if it failed. Stored when the admission hook agrees.
   */
  beginFill(key: string, relations: readonly string[]): (entry: CacheEntry | undefined, durationMs?: number) => void {
    let resolveFill: (entry: CacheEntry | undefined) => void = () => {}
    this.#fills.set(
      key,
      new Promise((resolve) => {
        resolveFill = resolve
      }),
    )
    let finished = false
    return (entry, durationMs = 0) => {
      if (finished) return
      finished = true
      this.#fills.delete(key)
      resolveFill(entry)
      if (!entry || entry.body.length > this.options.maxEntryBytes) return
      const seenBefore = this.#seen.has(key)
      this.#seen.set(key, true)
      const admit =
        this.options.admit ?? ((c: AdmissionCandidate) => c.durationMs >= (this.options.admitMs ?? 0) || c.seenBefore)
      if (admit({ key, relations, durationMs, bytes: entry.body.length, seenBefore })) {
        void this.#store(key, entry, this.#ttlFor(relations))
      }
    }
  }

  /** The smallest TTL among the relations' own (by schema.table, then schema), else the default. */
  #ttlFor(relations: readonly string[]): number {
    const byRelation = this.options.ttlByRelation
    let ttl = this.options.ttlMs
    if (!byRelation) return ttl
    for (const r of relations) {
      const own = byRelation[r] ?? byRelation[r.slice(0, r.indexOf('.'))]
      if (own !== undefined && own < ttl) ttl = own
    }
    return ttl
  }

  async #store(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    const bytes = encodeEntry(entry)
    try {
      await this.options.store.set(key, bytes, ttlMs)
      storedBytes.inc(bytes.length)
    } catch (err) {
      errors.inc()
      this.options.log.debug({ err }, 'result cache store failed')
    }
  }

  /** Invalidates every entry that read these relations. Never throws: a failure bypasses the cache until all is invalidated. */
  async bump(relations: readonly string[], source: 'proxy' | 'external' | 'pipeline'): Promise<void> {
    try {
      await Promise.all(relations.map((r) => this.options.store.set(versionKey(r), newVersion())))
      invalidations.inc({ source }, relations.length)
    } catch (err) {
      errors.inc()
      this.#mustInvalidateAll = true
      this.options.log.warn(
        { err, relations },
        'could not invalidate cached results: the cache is bypassed until it can',
      )
    }
  }
}
