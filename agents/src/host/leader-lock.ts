import type { Logger } from '@cairn/core'
import pg from 'pg'

export interface LeaderLockOptions {
  databaseUrl: string
  log: Logger
  /** Names the lock: processes with the same key elect one leader. Default `cairn-agent-host`. */
  key?: string
  /** How often a follower tries to take the lock. Default 5 s. */
  retryMs?: number
  /** Called when this process becomes the leader. */
  onElected(): Promise<void> | void
  /** Called when it stops being the leader (its session was lost, or `stop()`). */
  onDeposed(): Promise<void> | void
}

/**
 * One leader among several Cairn processes, through a session-level PostgreSQL
 * advisory lock on a connection of its own: the lock lasts as long as that
 * session, so a leader that dies or loses its connection frees it at once, and
 * a follower takes it on its next try.
 */
export class LeaderLock {
  #client: pg.Client | undefined
  #timer: NodeJS.Timeout | undefined
  #leader = false
  #stopped = false
  #trying: Promise<void> | undefined

  constructor(private readonly options: LeaderLockOptions) {}

  get isLeader(): boolean {
    return this.#leader
  }

  /** Tries now, then every `retryMs` while a follower. */
  async start(): Promise<void> {
    this.#stopped = false
    await this.#try()
    this.#timer = setInterval(() => void this.#try(), this.options.retryMs ?? 5_000)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#trying
    const client = this.#client
    this.#client = undefined
    if (this.#leader) await this.#depose()
    await client?.end().catch(() => {})
  }

  #try(): Promise<void> {
    if (this.#leader || this.#stopped || this.#trying) return this.#trying ?? Promise.resolve()
    this.#trying = this.#attempt().finally(() => {
      this.#trying = undefined
    })
    return this.#trying
  }

  async #attempt(): Promise<void> {
    const { log, key = 'cairn-agent-host' } = this.options
    try {
      if (!this.#client) {
        const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'cairn leader' })
        client.on('error', (err) => log.warn({ err }, 'lost the leader lock connection'))
        client.on('end', () => {
          if (this.#client === client) this.#client = undefined
          if (this.#leader && !this.#stopped) void this.#depose()
        })
        await client.connect()
        this.#client = client
      }
      const { rows } = await this.#client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
        [key],
      )
      if (rows[0]?.ok && !this.#stopped) {
        this.#leader = true
        log.info({ key }, 'this process leads the agents')
        await this.options.onElected()
      }
    } catch (err) {
      log.warn({ err }, 'could not try the leader lock')
    }
  }

  async #depose(): Promise<void> {
    this.#leader = false
    this.options.log.info('this process no longer leads the agents')
    await this.options.onDeposed()
  }
}
