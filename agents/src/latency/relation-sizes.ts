import type { ReadOnlyDb } from '@cairn/plugins'

/** A relation as a plan names it; `schema` is absent in a plan explained without VERBOSE. */
export interface PlanRelation {
  readonly schema?: string
  readonly name: string
}

/** pg_class's estimate of a relation's size, as of its last ANALYZE or VACUUM. */
export interface RelationSize {
  readonly pages: number
  readonly tuples: number
}

export interface RelationSizesOptions {
  /** How long a size is trusted before it is read again. Default 5 minutes. */
  readonly ttlMs?: number
  /** Sizes kept at most; the oldest go first. Default 10 000. */
  readonly maxEntries?: number
}

export const relationKey = (r: PlanRelation): string => (r.schema === undefined ? r.name : `${r.schema}.${r.name}`)

/**
 * relpages and reltuples per relation, cached, so features of a plan cost one
 * catalog query only for relations not seen lately.
 */
export class RelationSizes {
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #cache = new Map<string, { size: RelationSize; at: number }>()

  constructor({ ttlMs = 300_000, maxEntries = 10_000 }: RelationSizesOptions = {}) {
    this.#ttlMs = ttlMs
    this.#maxEntries = maxEntries
  }

  /** Sizes by `relationKey`; a relation PostgreSQL does not know is absent. */
  async lookup(db: ReadOnlyDb, relations: readonly PlanRelation[]): Promise<Map<string, RelationSize>> {
    const now = Date.now()
    const found = new Map<string, RelationSize>()
    const missing = new Map<string, PlanRelation>()
    for (const r of relations) {
      const key = relationKey(r)
      const hit = this.#cache.get(key)
      if (hit && now - hit.at < this.#ttlMs) found.set(key, hit.size)
      else missing.set(key, r)
    }
    if (missing.size === 0) return found
    const refs = [...missing.entries()]
    // Matched by name through parameters, so no identifier is ever spliced into the SQL.
    const { rows } = await db.query<{ key: string; pages: number; tuples: number }>(
      `SELECT r.key, c.relpages::float8 AS pages, greatest(c.reltuples, 0)::float8 AS tuples
         FROM unnest($1::text[], $2::text[], $3::text[]) AS r(key, schema, name)
         JOIN pg_class c ON c.relname = r.name
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE CASE WHEN r.schema IS NULL THEN pg_table_is_visible(c.oid) ELSE n.nspname = r.schema END`,
      [refs.map(([k]) => k), refs.map(([, r]) => r.schema ?? null), refs.map(([, r]) => r.name)],
    )
    for (const row of rows) {
      const size = { pages: Number(row.pages), tuples: Number(row.tuples) }
      found.set(row.key, size)
      this.#cache.delete(row.key)
      this.#cache.set(row.key, { size, at: now })
    }
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next().value
      if (oldest === undefined) break
      this.#cache.delete(oldest)
    }
    return found
  }
}
