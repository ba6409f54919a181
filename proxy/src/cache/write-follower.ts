import { randomBytes } from 'node:crypto'
import { connectPostgres, histogram, type Logger } from '@cairn/core'
import type pg from 'pg'
import type { ResultCache } from './result-cache.js'

export interface WriteFollowerOptions {
  databaseUrl: string
  cache: ResultCache
  log: Logger
  /** How often to read the slot. Default 100 ms. */
  pollMs?: number
}

const lag = histogram({
  name: 'cairn_cache_external_invalidation_lag_seconds',
  help: 'From the commit of a write that bypassed the proxy to the invalidation of what it touched',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
})

const TABLE_LINE = /^table (.+?): (?:INSERT|UPDATE|DELETE|TRUNCATE)/
const COMMIT_LINE = /^COMMIT(?: \d+)? \(at (.+)\)$/

/**
 * Follows every committed write in the database, including those that never
 * pass through the proxy (pipelines, psql straight to PostgreSQL), through a
 * temporary logical decoding slot (test_decoding), and invalidates the relations
 * they touched. Needs wal_level=logical; the slot goes away with its connection.
 */
export class WriteFollower {
  readonly slot = `cairn_cache_${randomBytes(4).toString('hex')}`
  #client: pg.Client | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  /** Polls run one after another: a caller's poll sees everything committed before it was called. */
  #chain: Promise<void> = Promise.resolve()
  /** Milliseconds from commit to invalidation of the most recent external writes, for tests and status. */
  readonly lags: number[] = []

  constructor(private readonly options: WriteFollowerOptions) {}

  /** Creates the slot; throws when the server cannot decode (wal_level below logical). */
  async start(): Promise<void> {
    const client = await connectPostgres(this.options.databaseUrl, { applicationName: 'cairn cache follower' })
    client.on('error', (err) => this.options.log.warn({ err }, 'cache write follower lost its connection'))
    try {
      await client.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding', true)`, [this.slot])
    } catch (err) {
      await client.end().catch(() => {})
      throw err
    }
    this.#client = client
    this.#schedule()
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.poll().finally(() => this.#schedule()), this.options.pollMs ?? 100)
  }

  /**
   * Reads what has been committed (and flushed to the WAL) since the last poll and invalidates it;
   * resolves after any poll already running, so everything committed before the call is handled.
   */
  poll(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#pollOnce())
    return this.#chain
  }

  async #pollOnce(): Promise<void> {
    const client = this.#client
    if (!client) return
    try {
      for (;;) {
        const { rows } = await client.query<{ data: string }>(
          `SELECT data FROM pg_logical_slot_get_changes($1, NULL, 10000, 'include-xids', '0', 'include-timestamp', '1', 'skip-empty-xacts', '1')`,
          [this.slot],
        )
        if (rows.length === 0) return
        const touched = new Set<string>()
        let committedAt: number | undefined
        for (const { data } of rows) {
          const table = TABLE_LINE.exec(data)
          if (table) touched.add(unquote(table[1] as string))
          const commit = COMMIT_LINE.exec(data)
          if (commit) committedAt = Date.parse(commit[1] as string)
        }
        if (touched.size) {
          await this.options.cache.bump([...touched], 'external')
          if (committedAt) {
            const ms = Date.now() - committedAt
            lag.observe(ms / 1000)
            this.lags.push(ms)
            if (this.lags.length > 1000) this.lags.shift()
          }
        }
        if (rows.length < 10000) return
      }
    } catch (err) {
      this.options.log.warn({ err }, 'cache write follower could not read its slot')
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#client?.end().catch(() => {})
  }
}

/** `public."Mixed Case"` → `public.Mixed Case`, the form relations are named in everywhere else. */
function unquote(name: string): string {
  const parts = name.match(/"(?:[^"]|"")*"|[^.]+/g) ?? [name]
  return parts.map((p) => (p.startsWith('"') ? p.slice(1, -1).replaceAll('""', '"') : p)).join('.')
}
