import { createHash } from 'node:crypto'

export interface CacheKeyParts {
  database: string
  /** The role that runs the statement: never one role's rows for another. */
  user: string
  /** The session's settings (TimeZone, DateStyle, search_path, extra_float_digits, …), all of them. */
  settings: ReadonlyMap<string, string>
  /** What the client sent that decides the answer: the SQL, and for the extended protocol its Bind. */
  request: Buffer | string
}

/** Settings that cannot change a result's bytes, left out so they do not split the cache. */
const IRRELEVANT = new Set(['application_name'])

/** A key covering everything that can change the answer. */
export function cacheKey({ database, user, settings, request }: CacheKeyParts): string {
  const h = createHash('sha256')
  h.update(database).update('\0').update(user).update('\0')
  for (const [name, value] of [...settings].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!IRRELEVANT.has(name)) h.update(name).update('=').update(value).update('\0')
  }
  h.update(request)
  return `rc:${h.digest('base64url')}`
}
