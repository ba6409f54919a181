import { createHash } from 'node:crypto'
import pg from 'pg'
import type { CapturedStatement } from './index-bench-captured.js'
import { quotedRelation } from './index-bench-dexter.js'

/** A B-tree to build: its table (`schema.table`) and key columns. */
export interface IndexSpec {
  relation: string
  columns: string[]
}

export interface BuiltIndex extends IndexSpec {
  name: string
  buildMs: number
  /** Why it was not built (it failed, or an existing index already leads with its columns). */
  skipped?: string
}

/**
 * The naive baseline: one single-column B-tree on every column the workload
 * compares or joins on (the proxy's analysis of each statement), on the
 * tables and materialized views of silver and gold.
 */
export function everyPredicateColumn(statements: readonly CapturedStatement[]): IndexSpec[] {
  const seen = new Map<string, IndexSpec>()
  for (const s of statements)
    for (const c of s.columns) {
      if (!c.relation || !/^(silver|gold)\./.test(c.relation) || (c.role !== 'predicate' && c.role !== 'join')) continue
      seen.set(`${c.relation}.${c.column}`, { relation: c.relation, columns: [c.column] })
    }
  return [...seen.values()].sort((a, b) => `${a.relation}.${a.columns}`.localeCompare(`${b.relation}.${b.columns}`))
}

/**
 * Builds the indexes (plain CREATE INDEX: nothing else runs meanwhile), named
 * `<prefix>_<table>_<columns>`; an index whose columns an existing index
 * already leads with is not built again.
 */
export async function buildIndexes(
  client: pg.ClientBase,
  specs: readonly IndexSpec[],
  prefix: string,
): Promise<BuiltIndex[]> {
  const built: BuiltIndex[] = []
  for (const spec of specs) {
    const name = indexName(prefix, spec)
    const existing = await leadingIndex(client, spec)
    if (existing) {
      built.push({ ...spec, name, buildMs: 0, skipped: `${existing} already leads with these columns` })
      continue
    }
    const started = performance.now()
    try {
      await client.query(
        `CREATE INDEX ${pg.escapeIdentifier(name)} ON ${quotedRelation(spec.relation)} (${spec.columns.map((c) => pg.escapeIdentifier(c)).join(', ')})`,
      )
      built.push({ ...spec, name, buildMs: performance.now() - started })
    } catch (err) {
      built.push({ ...spec, name, buildMs: performance.now() - started, skipped: (err as Error).message })
    }
  }
  return built
}

/** The name of a valid index on the relation whose first key columns are exactly `spec.columns`, if any. */
async function leadingIndex(client: pg.ClientBase, spec: IndexSpec): Promise<string | undefined> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = to_regclass($1) AND i.indisvalid AND i.indpred IS NULL
        AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM unnest(i.indkey[0:$3 - 1]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = $2::text[]
      LIMIT 1`,
    [quotedRelation(spec.relation), spec.columns, spec.columns.length],
  )
  return rows[0]?.name
}

/** `<prefix>_<table>_<columns>`, cut to PostgreSQL's 63 bytes with a hash when longer. */
function indexName(prefix: string, spec: IndexSpec): string {
  const table = spec.relation.slice(spec.relation.indexOf('.') + 1)
  const name = `${prefix}_${table}_${spec.columns.join('_')}`
  if (Buffer.byteLength(name) <= 63) return name
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8)
  return `${name.slice(0, 54)}_${hash}`
}
