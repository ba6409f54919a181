import pg from 'pg'
import { errors } from '../errors/error-codes.js'

/** The URL with its password replaced, for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparseable URL)'
  }
}

/**
 * Opens one connection, translating driver failures into
 * CAIRN_ERR_DATABASE_UNAVAILABLE with the (redacted) address and the reason.
 */
export async function connectPostgres(url: string, options: { applicationName?: string } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: options.applicationName ?? 'cairn',
    connectionTimeoutMillis: 10_000,
  })
  try {
    await client.connect()
  } catch (cause) {
    await client.end().catch(() => {})
    throw errors.DATABASE_UNAVAILABLE(`${redactUrl(url)}: ${(cause as Error).message}`, { cause })
  }
  return client
}
