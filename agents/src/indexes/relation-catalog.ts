import type pg from 'pg'

/** What the planner knows of one column (pg_stats), as the candidates need it. */
export interface ColumnFacts {
  readonly name: string
  readonly type: string
  /** Distinct values, estimated (pg_stats n_distinct, negative ones scaled by the row count); null before ANALYZE. */
  readonly distinct: number | null
  /** Share of rows holding the most common value; null when PostgreSQL kept none. */
  readonly topFrequency: number | null
  /** Physical order against value order, -1..1; null before ANALYZE. */
  readonly correlation: number | null
  readonly nullFraction: number | null
  /** Average width in bytes. */
  readonly width: number | null
}

/** An index that exists. */
export interface ExistingIndex {
  readonly oid: number
  readonly name: string
  readonly method: string
  /** Key columns; null for an expression key. */
  readonly keys: readonly (string | null)[]
  readonly include: readonly string[]
  /** pg_get_expr of its predicate, for partial indexes. */
  readonly predicate: string | null
  readonly unique: boolean
  readonly primary: boolean
  /** The constraint it backs: p, u, x (exclusion), or null. */
  readonly constraint: string | null
  readonly valid: boolean
  /** Whether it is the table's REPLICA IDENTITY. */
  readonly replicaIdentity: boolean
  /** pg_get_indexdef. */
  readonly definition: string
  /** Operator classes, collations and options of the keys: two indexes are the same only when these are too. */
  readonly keySignature: readonly string[]
  readonly bytes: number
  /** pg_stat_user_indexes.idx_scan, as read now. */
  readonly scans: number
}

export interface TableFacts {
  readonly oid: number
  readonly schema: string
  readonly name: string
  /** `schema.name`. */
  readonly relation: string
  /** r (table) or m (materialized view). */
  readonly kind: string
  /** pg_class.reltuples; -1 before the first ANALYZE or VACUUM. */
  readonly rows: number
  readonly pages: number
  readonly bytes: number
  readonly columns: readonly ColumnFacts[]
  readonly indexes: readonly ExistingIndex[]
  /** Rows inserted, updated and deleted per hour, from the collectors' samples over the window (null without samples). */
  readonly writesPerHour: number | null
  /** Sequential and index scans per hour, from the same samples. */
  readonly readsPerHour: number | null
}

interface TableRow {
  oid: number
  schema: string
  name: string
  relkind: string
  reltuples: number
  relpages: number
  bytes: number
  columns: ColumnFacts[] | null
  indexes: ExistingIndex[] | null
  writes: number | null
  reads: number | null
  seconds: number | null
}

/** Schemas an advisor never indexes: the catalogs and Cairn's own bookkeeping. */
export const EXCLUDED_SCHEMAS: readonly string[] = ['pg_catalog', 'information_schema', 'pg_toast', 'cairn_meta']

/**
 * Tables and materialized views, by `schema.table`, of the names asked for
 * (`schema.table`, or a bare name resolved through the search_path), with their columns' statistics, their
 * indexes and their write rate. Names that are not a table (views, unknown
 * names, catalogs) are absent. Names are matched through parameters, so no
 * catalog text is spliced into SQL.
 */
export async function readRelationCatalog(
  client: pg.ClientBase,
  relations: readonly string[],
  { since }: { since: number },
): Promise<Map<string, TableFacts>> {
  const refs = [...new Set(relations)].map((r) => {
    const dot = r.indexOf('.')
    return dot < 0 ? { schema: null, name: r } : { schema: r.slice(0, dot), name: r.slice(dot + 1) }
  })
  if (refs.length === 0) return new Map()
  const { rows } = await client.query<TableRow>(
    `WITH wanted AS (
       SELECT DISTINCT c.oid
         FROM unnest($1::text[], $2::text[]) AS r(schema, name)
         JOIN pg_class c ON c.relname = r.name
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE CASE WHEN r.schema IS NULL THEN pg_table_is_visible(c.oid) ELSE n.nspname = r.schema END
          AND c.relkind IN ('r', 'm') AND NOT (n.nspname = ANY($3))
     ), rates AS (
       SELECT s.relid, sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::float8 AS writes,
              sum(s.seq_scan + coalesce(s.idx_scan, 0))::float8 AS reads, sum(s.interval_seconds)::float8 AS seconds
         FROM cairn_meta.table_stats_samples s JOIN wanted w ON w.oid = s.relid
        WHERE s.at > $4 AND s.n_tup_ins IS NOT NULL AND s.interval_seconds > 0
        GROUP BY s.relid
     )
     SELECT c.oid::int8::float8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind,
            c.reltuples::float8 AS reltuples, c.relpages::float8 AS relpages,
            pg_total_relation_size(c.oid)::float8 AS bytes,
            rates.writes, rates.reads, rates.seconds,
            (SELECT jsonb_agg(jsonb_build_object(
                      'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                      'distinct', CASE WHEN s.n_distinct IS NULL THEN NULL
                                       WHEN s.n_distinct >= 0 THEN s.n_distinct::float8
                                       ELSE -s.n_distinct::float8 * greatest(c.reltuples, 0) END,
                      'topFrequency', s.most_common_freqs[1],
                      'correlation', s.correlation, 'nullFraction', s.null_frac, 'width', s.avg_width)
                    ORDER BY a.attnum)
               FROM pg_attribute a
               LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
                                    AND NOT s.inherited
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
            (SELECT jsonb_agg(jsonb_build_object(
                      'oid', i.indexrelid::int8, 'name', ic.relname, 'method', am.amname,
                      'keys', (SELECT jsonb_agg(a.attname ORDER BY k.n)
                                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum AND k.attnum > 0
                                WHERE k.n <= i.indnkeyatts),
                      'include', coalesce((SELECT jsonb_agg(a.attname ORDER BY k.n)
                                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                                WHERE k.n > i.indnkeyatts), '[]'::jsonb),
                      'predicate', pg_get_expr(i.indpred, i.indrelid),
                      'unique', i.indisunique, 'primary', i.indisprimary,
                      'constraint', (SELECT con.contype FROM pg_constraint con WHERE con.conindid = i.indexrelid
                                       AND con.contype IN ('p', 'u', 'x') LIMIT 1),
                      'valid', i.indisvalid AND i.indisready, 'replicaIdentity', i.indisreplident,
                      'definition', pg_get_indexdef(i.indexrelid),
                      'keySignature', (SELECT jsonb_agg(concat_ws(':', cl, co, op) ORDER BY n)
                                 FROM unnest(i.indclass::oid[], i.indcollation::oid[], i.indoption::int2[])
                                      WITH ORDINALITY AS x(cl, co, op, n)),
                      'bytes', pg_relation_size(i.indexrelid),
                      'scans', coalesce(st.idx_scan, 0)))
               FROM pg_index i
               JOIN pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_am am ON am.oid = ic.relam
               LEFT JOIN pg_stat_all_indexes st ON st.indexrelid = i.indexrelid
              WHERE i.indrelid = c.oid) AS indexes
       FROM wanted w
       JOIN pg_class c ON c.oid = w.oid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN rates ON rates.relid = c.oid`,
    [refs.map((r) => r.schema), refs.map((r) => r.name), EXCLUDED_SCHEMAS, new Date(since)],
  )
  const tables = new Map<string, TableFacts>()
  for (const r of rows) {
    const hours = r.seconds && r.seconds > 0 ? r.seconds / 3600 : null
    const facts: TableFacts = {
      oid: Number(r.oid),
      schema: r.schema,
      name: r.name,
      relation: `${r.schema}.${r.name}`,
      kind: r.relkind,
      rows: Number(r.reltuples),
      pages: Number(r.relpages),
      bytes: Number(r.bytes),
      columns: r.columns ?? [],
      indexes: (r.indexes ?? []).map((i) => ({
        ...i,
        oid: Number(i.oid),
        keys: i.keys ?? [],
        keySignature: i.keySignature ?? [],
        bytes: Number(i.bytes),
        scans: Number(i.scans),
      })),
      writesPerHour: hours ? Number(r.writes) / hours : null,
      readsPerHour: hours ? Number(r.reads) / hours : null,
    }
    tables.set(facts.relation, facts)
  }
  return tables
}

/** A table by a name as the workload wrote it: `schema.table`, or a bare name when it is unique among those read. */
export function tableNamed(tables: ReadonlyMap<string, TableFacts>, name: string): TableFacts | undefined {
  const exact = tables.get(name)
  if (exact || name.includes('.')) return exact
  const matches = [...tables.values()].filter((t) => t.name === name)
  return matches.length === 1 ? matches[0] : undefined
}

/**
 * Tables (outside the excluded schemas) that have an index, optionally only
 * those with one whose name starts with `namePrefix`: where drops are looked
 * for besides the tables the workload reads.
 */
export async function indexedTables(
  client: pg.ClientBase,
  { namePrefix }: { namePrefix?: string } = {},
): Promise<string[]> {
  const { rows } = await client.query<{ relation: string }>(
    `SELECT DISTINCT n.nspname || '.' || c.relname AS relation
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND NOT (n.nspname = ANY($1)) AND n.nspname NOT LIKE 'pg\\_temp\\_%'
        AND ($2::text IS NULL OR starts_with(ic.relname, $2))`,
    [EXCLUDED_SCHEMAS, namePrefix ?? null],
  )
  return rows.map((r) => r.relation)
}
