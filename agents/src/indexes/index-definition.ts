import { createHash } from 'node:crypto'
import pg from 'pg'

/** An index as the advisor thinks of it: what it is built on, never how it is named. */
export interface IndexDefinition {
  readonly schema: string
  readonly table: string
  readonly method: 'btree' | 'brin'
  /** Key columns, in order. */
  readonly keys: readonly string[]
  /** INCLUDE columns (B-tree only): carried in the leaf so a query can be answered from the index alone. */
  readonly include: readonly string[]
  /** A partial index's predicate, as SQL with identifiers quoted (`"status" = 'paid'`); absent for a full index. */
  readonly predicate?: string
}

/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63

export const qualifiedTable = (d: Pick<IndexDefinition, 'schema' | 'table'>): string => `${d.schema}.${d.table}`

const quotedTable = (d: IndexDefinition): string => `${pg.escapeIdentifier(d.schema)}.${pg.escapeIdentifier(d.table)}`
const quotedList = (columns: readonly string[]): string => columns.map((c) => pg.escapeIdentifier(c)).join(', ')

/**
 * What the index is, in a form stable across runs: the key verdicts are
 * remembered by, e.g. `index.create:silver.orders(customer_id) where "status" = 'paid'`.
 */
export function indexKey(d: IndexDefinition): string {
  let key = `index.create:${qualifiedTable(d)}(${d.keys.join(', ')})`
  if (d.include.length > 0) key += ` include (${d.include.join(', ')})`
  if (d.method !== 'btree') key += ` using ${d.method}`
  if (d.predicate) key += ` where ${d.predicate}`
  return key
}

/**
 * A person's reading of it: `silver.orders (customer_id, status) INCLUDE (total) WHERE "status" = 'paid'`,
 * `silver.orders USING brin (created_at)`; without `method`, the type is left to the sentence around it.
 */
export function describeIndex(d: IndexDefinition, { method = true } = {}): string {
  const using = method && d.method !== 'btree' ? ` USING ${d.method}` : ''
  let text = `${qualifiedTable(d)}${using} (${d.keys.join(', ')})`
  if (d.include.length > 0) text += ` INCLUDE (${d.include.join(', ')})`
  if (d.predicate) text += ` WHERE ${d.predicate}`
  return text
}

/**
 * `cairn_<table>_<cols>[_covering][_partial|_brin]`, within 63 bytes: a long
 * name is cut and ends in a short hash of the whole definition, so two long
 * definitions never share a name. `hashed` adds the hash whatever the length
 * (when the plain name is taken by another relation of the schema).
 */
export function indexName(d: IndexDefinition, { hashed = false } = {}): string {
  let suffix = ''
  if (d.include.length > 0) suffix += '_covering'
  if (d.predicate) suffix += '_partial'
  if (d.method === 'brin') suffix += '_brin'
  const name = `cairn_${d.table}_${d.keys.join('_')}${suffix}`
  if (!hashed && Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name
  const hash = createHash('sha1').update(indexKey(d)).digest('hex').slice(0, 8)
  return `${truncateBytes(name, MAX_IDENTIFIER_BYTES - hash.length - 1)}_${hash}`
}

/** `CREATE INDEX [CONCURRENTLY] <name> ON <schema>.<table> USING <method> (<cols>) [INCLUDE (...)] [WHERE ...]`. */
export function createIndexSql(d: IndexDefinition, name: string, { concurrently = true } = {}): string {
  let sql = `CREATE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${pg.escapeIdentifier(name)} ON ${quotedTable(d)} USING ${d.method} (${quotedList(d.keys)})`
  if (d.include.length > 0) sql += ` INCLUDE (${quotedList(d.include)})`
  if (d.predicate) sql += ` WHERE ${d.predicate}`
  return sql
}

/** What HypoPG is given: the same statement, without a name (it makes one up) and never concurrently. */
export function hypotheticalIndexSql(d: IndexDefinition): string {
  let sql = `CREATE INDEX ON ${quotedTable(d)} USING ${d.method} (${quotedList(d.keys)})`
  if (d.include.length > 0) sql += ` INCLUDE (${quotedList(d.include)})`
  if (d.predicate) sql += ` WHERE ${d.predicate}`
  return sql
}

export function dropIndexSql(schema: string, name: string, { concurrently = true } = {}): string {
  return `DROP INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`
}

/** Whether `wide` answers every lookup `narrow` does: same table, type and predicate, and `narrow`'s keys lead `wide`'s. */
export function extendsIndex(wide: IndexDefinition, narrow: IndexDefinition): boolean {
  if (wide.schema !== narrow.schema || wide.table !== narrow.table || wide.method !== narrow.method) return false
  if ((wide.predicate ?? '') !== (narrow.predicate ?? '')) return false
  if (narrow.keys.length > wide.keys.length) return false
  if (!narrow.keys.every((k, i) => wide.keys[i] === k)) return false
  const carried = new Set([...wide.keys, ...wide.include])
  return narrow.include.every((c) => carried.has(c))
}

function truncateBytes(text: string, bytes: number): string {
  let out = ''
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > bytes) break
    out += ch
  }
  return out
}
