import pg from 'pg'

/** An index on a silver or gold relation other than its primary key or a unique index. */
export interface SecondaryIndex {
  schema: string
  table: string
  name: string
  /** pg_get_indexdef: what would build it again. */
  definition: string
  bytes: number
}

/** The secondary indexes on silver.* and gold.* now: what a contender has in place, and what it takes. */
export async function secondaryIndexes(client: pg.ClientBase | pg.Pool): Promise<SecondaryIndex[]> {
  const { rows } = await client.query<SecondaryIndex>(
    `SELECT n.nspname AS schema, t.relname AS table, c.relname AS name,
            pg_get_indexdef(c.oid) AS definition, pg_relation_size(c.oid)::float8 AS bytes
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname IN ('silver', 'gold') AND NOT i.indisprimary AND NOT i.indisunique
      ORDER BY 1, 2, 3`,
  )
  return rows.map((r) => ({ ...r, bytes: Number(r.bytes) }))
}

/** Back to primary keys and unique indexes only on silver and gold; returns what was dropped. */
export async function dropSecondaryIndexes(client: pg.ClientBase | pg.Pool): Promise<SecondaryIndex[]> {
  const found = await secondaryIndexes(client)
  for (const index of found)
    await client.query(`DROP INDEX IF EXISTS ${pg.escapeIdentifier(index.schema)}.${pg.escapeIdentifier(index.name)}`)
  return found
}

export const totalBytes = (indexes: readonly SecondaryIndex[]): number => indexes.reduce((sum, i) => sum + i.bytes, 0)
