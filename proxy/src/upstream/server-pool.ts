import { errors, gauge, histogram } from '@cairn/core'
import { ServerConnection, type ServerTarget } from './server-connection.js'

export interface PoolSettings {
  /** Most server connections this pool opens. */
  size: number
  /** How long a client waits for a connection before it gets an error. */
  queueTimeoutMs: number
  /** Idle server connections older than this are closed. */
  idleTimeoutMs: number
  /** A connection with more prepared statements than this is closed rather than reused. */
  maxPreparedPerConnection: number
}

const serverConnections = gauge({
  name: 'cairn_proxy_server_connections',
  help: 'Server connections to PostgreSQL, by state',
  labelNames: ['state'] as const,
})
const poolWait = histogram({
  name: 'cairn_proxy_pool_wait_seconds',
  help: 'Time a client waited for a server connection',
  buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
})

interface Waiter {
  resolve(conn: ServerConnection): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

/** The server connections of one (database, user), handed out one transaction (or session) at a time. */
export class ServerPool {
  readonly #idle: ServerConnection[] = []
  readonly #waiters: Waiter[] = []
  #open = 0
  #sweeper: NodeJS.Timeout
  #closed = false

  constructor(
    readonly target: ServerTarget,
    readonly settings: PoolSettings,
  ) {
    this.#sweeper = setInterval(() => this.#closeIdle(), Math.max(1000, settings.idleTimeoutMs / 4)).unref()
  }

  get openConnections(): number {
    return this.#open
  }

  get idleConnections(): number {
    return this.#idle.length
  }

  /** An idle connection right now, without waiting (the common case on the hot path), or undefined. */
  tryAcquire(): ServerConnection | undefined {
    for (;;) {
      const conn = this.#idle.pop()
      if (!conn) return undefined
      serverConnections.dec({ state: 'idle' })
      if (conn.closed) continue
      poolWait.observe(0)
      serverConnections.inc({ state: 'active' })
      return conn
    }
  }

  /** A logged-in connection for one client, and how long the client waited for it. */
  async acquire(): Promise<{ conn: ServerConnection; waitMs: number }> {
    const started = performance.now()
    const conn = await this.#take()
    const waitMs = performance.now() - started
    poolWait.observe(waitMs / 1000)
    serverConnections.inc({ state: 'active' })
    return { conn, waitMs }
  }

  #take(): Promise<ServerConnection> {
    for (;;) {
      const conn = this.#idle.pop()
      if (!conn) break
      serverConnections.dec({ state: 'idle' })
      if (!conn.closed) return Promise.resolve(conn)
    }
    if (this.#open < this.settings.size) return this.#openOne()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          reject(
            errors.TOO_MANY_CONNECTIONS(
              `no server connection for ${this.target.user}@${this.target.database} within ${this.settings.queueTimeoutMs} ms (pool size ${this.settings.size})`,
            ),
          )
        }, this.settings.queueTimeoutMs),
      }
      this.#waiters.push(waiter)
    })
  }

  async #openOne(): Promise<ServerConnection> {
    this.#open++
    try {
      const conn = await ServerConnection.connect(this.target)
      conn.socket.on('close', () => this.#forget(conn))
      return conn
    } catch (err) {
      this.#open--
      this.#wakeOne()
      throw err
    }
  }

  /** Gives a connection back: reused when clean and idle, closed otherwise. */
  release(conn: ServerConnection): void {
    serverConnections.dec({ state: 'active' })
    conn.listener = undefined
    conn.lastUsedAt = Date.now()
    const reusable =
      !this.#closed &&
      !conn.closed &&
      !conn.dirty &&
      conn.txStatus === 0x49 &&
      conn.prepared.size <= this.settings.maxPreparedPerConnection
    if (!reusable) {
      if (!conn.closed) conn.close()
      this.#forget(conn)
      this.#wakeOne()
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter) {
      clearTimeout(waiter.timer)
      waiter.resolve(conn)
      return
    }
    this.#idle.push(conn)
    serverConnections.inc({ state: 'idle' })
  }

  readonly #forgotten = new WeakSet<ServerConnection>()
  /** Counts a connection out once, however many of close/release report it. */
  #forget(conn: ServerConnection): void {
    if (this.#forgotten.has(conn)) return
    this.#forgotten.add(conn)
    const i = this.#idle.indexOf(conn)
    if (i >= 0) {
      this.#idle.splice(i, 1)
      serverConnections.dec({ state: 'idle' })
    }
    this.#open--
  }

  /** A waiter can open a connection now that one is gone. */
  #wakeOne(): void {
    if (this.#open >= this.settings.size) return
    const waiter = this.#waiters.shift()
    if (!waiter) return
    clearTimeout(waiter.timer)
    this.#openOne().then(waiter.resolve, waiter.reject)
  }

  #closeIdle(): void {
    const cutoff = Date.now() - this.settings.idleTimeoutMs
    for (const conn of [...this.#idle]) if (conn.lastUsedAt < cutoff) conn.close()
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const conn of this.#idle.splice(0)) {
      serverConnections.dec({ state: 'idle' })
      conn.close()
    }
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      w.reject(errors.DATABASE_UNAVAILABLE('the proxy is shutting down'))
    }
  }
}
