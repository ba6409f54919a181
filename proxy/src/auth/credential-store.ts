import { readFileSync } from 'node:fs'
import { errors } from '@cairn/core'
import type pg from 'pg'
import { parseScramVerifier, type ScramVerifier } from './scram.js'

/** How a user may log in: what the proxy can check a client against, and what it can log in upstream with. */
export interface UserCredential {
  readonly user: string
  /** Plaintext password, when the users file holds one. */
  readonly password?: string
  readonly scram?: ScramVerifier
  /** `md5…` as PostgreSQL stores it. */
  readonly md5?: string
}

export interface CredentialStore {
  lookup(user: string): Promise<UserCredential | undefined>
}

/** One entry: a plaintext password, `SCRAM-SHA-256$…` or `md5…` as in pg_authid.rolpassword. */
export function credentialFrom(user: string, secret: string): UserCredential {
  const scram = parseScramVerifier(secret)
  if (scram) return { user, scram }
  if (/^md5[0-9a-f]{32}$/.test(secret)) return { user, md5: secret }
  return { user, password: secret }
}

/** A JSON file `{ "user": "secret", … }`, read once. */
export class UsersFileStore implements CredentialStore {
  readonly #users = new Map<string, UserCredential>()

  constructor(file: string) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (cause) {
      throw errors.CONFIG_INVALID(`proxy users file ${file}: ${(cause as Error).message}`, { cause })
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw errors.CONFIG_INVALID(`proxy users file ${file} must hold an object of user → password or verifier`)
    }
    for (const [user, secret] of Object.entries(parsed)) {
      if (typeof secret !== 'string') throw errors.CONFIG_INVALID(`proxy users file ${file}: "${user}" is not a string`)
      this.#users.set(user, credentialFrom(user, secret))
    }
  }

  async lookup(user: string): Promise<UserCredential | undefined> {
    return this.#users.get(user)
  }
}

/**
 * Looks users up in PostgreSQL itself, as PgBouncer's auth_query does: clients
 * log in with their PostgreSQL passwords, and the proxy logs in upstream as them
 * with the key SCRAM lets it recover. The default query reads pg_authid, which
 * needs a superuser; point it at a SECURITY DEFINER function otherwise.
 */
export class AuthQueryStore implements CredentialStore {
  static readonly DEFAULT_QUERY =
    'SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1 AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil > now())'
  readonly #cache = new Map<string, { at: number; credential: UserCredential | undefined }>()

  constructor(
    private readonly client: () => Promise<pg.ClientBase>,
    private readonly query = AuthQueryStore.DEFAULT_QUERY,
    private readonly ttlMs = 5_000,
  ) {}

  async lookup(user: string): Promise<UserCredential | undefined> {
    const hit = this.#cache.get(user)
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.credential
    const client = await this.client()
    const { rows } = await client.query<{ rolpassword: string | null }>(this.query, [user])
    const secret = rows[0]?.rolpassword
    const credential = secret ? credentialFrom(user, secret) : undefined
    this.#cache.set(user, { at: Date.now(), credential })
    return credential
  }
}
