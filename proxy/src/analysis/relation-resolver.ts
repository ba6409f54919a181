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
  /** view → what its rewrite rule reads (plain views only: a materialized view is data of its own) */
  #viewDeps = new Map<string, string[]>()

  /** Replaces the snapshot with (schema, name) pairs, e.g. from pg_class, and each view's dependencies. */
  load(rows: readonly { schema: string; name: string }[], views: readonly { view: string; base: string }[] = []): void {
    const deps = new Map<string, string[]>()
    for (const { view, base } of views) deps.set(view, [...(deps.get(view) ?? []), base])
    this.#viewDeps = deps
    const next = new Map<string, Set<string>>()
    for (const { schema, name } of rows) {
      const set = next.get(name) ?? new Set<string>()
      set.add(schema)
      next.set(name, set)
    }
    this.#schemasByName = next
    this.#schemas = new Set(rows.map((r) => r.schema))
  }

  /** Like `resolve`, but undefined when the snapshot has no such relation. */
  resolveKnown(ref: RelationRef, searchPath: string | undefined, user: string): string | undefined {
    const qualified = this.resolve(ref, searchPath, user)
    const dot = qualified.indexOf('.')
    return this.#schemasByName.get(qualified.slice(dot + 1))?.has(qualified.slice(0, dot)) ? qualified : undefined
  }

  /** The tables a relation's rows come from: a view expanded (recursively) to its base relations. */
  expand(qualified: string, seen = new Set<string>()): string[] {
    const deps = this.#viewDeps.get(qualified)
    if (!deps || seen.has(qualified)) return [qualified]
    seen.add(qualified)
    return [...new Set(deps.flatMap((d) => this.expand(d, seen)))]
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
