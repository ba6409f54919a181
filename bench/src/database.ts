import pg from 'pg'

/** The URL of another database on the same server, as the same user. */
export function databaseUrlFor(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

/** Creates the database unless it exists. */
export async function ensureDatabase(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  if (rowCount) return false
  await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  return true
}

/** The user's stored secret (`SCRAM-SHA-256$…`), as a PgBouncer auth_file wants it; needs a superuser. */
export async function storedSecret(client: pg.Client, user: string): Promise<string> {
  const { rows } = await client.query<{ rolpassword: string | null }>(
    'SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1',
    [user],
  )
  const secret = rows[0]?.rolpassword
  if (!secret) throw new Error(`no stored password for ${user} in pg_authid`)
  return secret
}

export async function serverVersion(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version')
  return rows[0]?.server_version ?? 'unknown'
}
