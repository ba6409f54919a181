import type pg from 'pg'

// Two-int advisory keys (namespace, relation): apart from the single-bigint keys other components use.
const lockSql = `SELECT pg_try_advisory_lock(hashtext('cairn_meta.actions'), hashtext($1)) AS locked`
const unlockSql = `SELECT pg_advisory_unlock(hashtext('cairn_meta.actions'), hashtext($1))`

/**
 * Takes the session advisory lock of a relation on `client`, without waiting:
 * one change at a time per table, across processes. False when another
 * session holds it. The lock lasts until `unlockRelation` or the session ends,
 * so a process that dies mid-change frees the table.
 */
export async function lockRelation(client: pg.ClientBase, relation: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(lockSql, [relation])
  return rows[0]?.locked === true
}

export async function unlockRelation(client: pg.ClientBase, relation: string): Promise<void> {
  await client.query(unlockSql, [relation])
}
