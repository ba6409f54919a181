import type { RelationRef } from './analyze-sql.js'

/**
 * Qualifies relation names as PostgreSQL would: an unqualified name is the
 * first schema on the session's search_path (pg_catalog implicitly first) that
 * has a relation of that name. Works from a snapshot of pg_class, refreshed by
 * the owner; a name not in the snapshot (created since) goes to the first
 * schema on the path that exists, else `public`.
 */
export class RelationResolver {
  /** relation name → schemas that have one of that name */
  #schemasByName = new Map<string, Set<string>>()
  #schemas = new Set<string>()

  /** Replaces the snapshot with (schema, name) pairs, e.g. from pg_class. */
  load(rows: readonly { schema: string; name: string }[]): void {
    const next = new Map<string, Set<string>>()
    for (const { schema, name } of rows) {
      const set = next.get(name) ?? new Set<string>()
      set.add(schema)
      next.set(name, set)
    }
    this.#schemasByName = next
    this.#schemas = new Set(rows.map((r) => r.schema))
  }

  resolve(ref: RelationRef, searchPath: string | undefined, user: string): string {
    if (ref.schema) return `${ref.schema}.${ref.name}`
    const path = parseSearchPath(searchPath ?? '"$user", public', user)
    const schemas = this.#schemasByName.get(ref.name)
    if (schemas) {
      for (const schema of ['pg_catalog', ...path]) if (schemas.has(schema)) return `${schema}.${ref.name}`
    }
    return `${path.find((s) => this.#schemas.has(s)) ?? 'public'}.${ref.name}`
  }
}

/** `"$user", public` → [user, 'public']; quoted names keep their case. */
export function parseSearchPath(searchPath: string, user: string): string[] {
  return searchPath
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s.startsWith('"') ? s.slice(1, -1).replaceAll('""', '"') : s.toLowerCase()))
    .map((s) => (s === '$user' ? user : s))
}
