import type pg from 'pg'

/**
 * Runs `work` in a transaction on a connection of its own: committed when it
 * resolves, rolled back when it throws (the error goes on), the connection
 * released either way. `begin` opens it: `BEGIN READ ONLY; SET LOCAL …`.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query(begin)
    try {
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
  } finally {
    client.release()
  }
}
