import type { UpstreamSecret } from '../auth/scram.js'
import { type PoolSettings, ServerPool } from './server-pool.js'

export interface UpstreamAddress {
  host: string
  port: number
  connectTimeoutMs: number
  maxMessageBytes: number
}

/** One pool per (database, user), created on first login; its credentials follow the latest login. */
export class PoolRegistry {
  readonly #pools = new Map<string, ServerPool>()

  constructor(
    private readonly upstream: UpstreamAddress,
    private readonly settings: PoolSettings,
  ) {}

  get(database: string, user: string, secret: UpstreamSecret | undefined): ServerPool {
    const key = `${database}\u0000${user}`
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = new ServerPool({ ...this.upstream, database, user, secret }, this.settings)
      this.#pools.set(key, pool)
    } else if (secret) {
      pool.target.secret = secret
    }
    return pool
  }

  get pools(): readonly ServerPool[] {
    return [...this.#pools.values()]
  }

  close(): void {
    for (const pool of this.#pools.values()) pool.close()
    this.#pools.clear()
  }
}
