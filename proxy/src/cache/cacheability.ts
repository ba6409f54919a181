import type { StatementAnalysis } from '../analysis/analyze-sql.js'

export interface CachePolicy {
  /** Schemas or schema.tables never cached. */
  deny: readonly string[]
  /** When not empty, only these schemas or schema.tables are cached. */
  allow: readonly string[]
}

export type Cacheability =
  | { readonly cacheable: true; readonly relations: readonly string[] }
  | { readonly cacheable: false; readonly reason: string }

/** Schemas whose contents change without a write Cairn can see (catalogs, statistics, temp). */
const SYSTEM = /^(pg_catalog|information_schema|pg_toast|pg_temp.*)\./

/**
 * Whether a statement's result may be served from the cache, and if so which
 * base relations it depends on; otherwise why not, in words an admin can act on.
 * `relations` resolves names and expands views; it returns undefined for a
 * relation the catalog snapshot does not know (yet).
 */
export function cacheability(
  statements: readonly StatementAnalysis[],
  relations: (s: StatementAnalysis) => string[] | undefined,
  policy: CachePolicy,
): Cacheability {
  if (statements.length !== 1) return { cacheable: false, reason: `${statements.length} statements in one query` }
  const s = statements[0] as StatementAnalysis
  if (s.kind !== 'select')
    return { cacheable: false, reason: `${s.kind === 'unknown' ? 'not parsed' : s.kind} statement` }
  if (s.relationsWritten.length > 0) return { cacheable: false, reason: 'writes (SELECT INTO)' }
  if (!s.deterministic)
    return { cacheable: false, reason: `not deterministic: ${s.nondeterministicReasons.join(', ')}` }
  const rels = relations(s)
  if (!rels) return { cacheable: false, reason: 'reads a relation not in the catalog snapshot yet' }
  const system = rels.find((r) => SYSTEM.test(r))
  if (system) return { cacheable: false, reason: `reads ${system} (system catalogs change without writes)` }
  const matches = (r: string, p: string) => r === p || r.startsWith(`${p}.`)
  const denied = rels.find((r) => policy.deny.some((p) => matches(r, p)))
  if (denied) return { cacheable: false, reason: `${denied} is denied by CAIRN_CACHE_DENY` }
  if (policy.allow.length) {
    const outside = rels.find((r) => !policy.allow.some((p) => matches(r, p)))
    if (outside) return { cacheable: false, reason: `${outside} is not in CAIRN_CACHE_ALLOW` }
  }
  return { cacheable: true, relations: rels }
}
