import { readFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { createSecureContext, type SecureContext } from 'node:tls'
import { gauge, type Logger } from '@cairn/core'
import type { CredentialStore } from './auth/credential-store.js'
import { errorResponse } from './protocol/backend-messages.js'
import { CancelRegistry } from './session/cancel-registry.js'
import { ClientSession, type SessionCache } from './session/client-session.js'
import type { StatementSink } from './telemetry/statement-record.js'
import { PoolRegistry } from './upstream/pool-registry.js'

export interface ProxyServerOptions {
  host: string
  port: number
  /** Where PostgreSQL listens. */
  upstream: { host: string; port: number }
  auth: 'scram-sha-256' | 'md5' | 'trust'
  credentials: CredentialStore
  poolMode: 'transaction' | 'session'
  poolSize: number
  queueTimeoutMs: number
  serverIdleTimeoutMs: number
  maxClients: number
  tls?: { certFile: string; keyFile: string }
  statements: StatementSink
  /** The result cache; off when absent. */
  cache?: SessionCache
  log: Logger
  /** Largest message accepted from either side; default 256 MiB. */
  maxMessageBytes?: number
}

const clientConnections = gauge({ name: 'cairn_proxy_client_connections', help: 'Client connections to the proxy' })

/** The front door: a PostgreSQL wire-protocol server in front of a pool of PostgreSQL connections. */
export class ProxyServer {
  readonly #server: Server
  readonly #sessions = new Set<ClientSession>()
  /** Every accepted socket, sessions or not, so close() can end them all. */
  readonly #sockets = new Set<Socket>()
  readonly pools: PoolRegistry
  readonly #cancels = new CancelRegistry()
  readonly #tls: SecureContext | undefined

  constructor(private readonly options: ProxyServerOptions) {
    const maxMessageBytes = options.maxMessageBytes ?? 256 * 1024 * 1024
    this.pools = new PoolRegistry(
      { ...options.upstream, connectTimeoutMs: 5_000, maxMessageBytes },
      {
        size: options.poolSize,
        queueTimeoutMs: options.queueTimeoutMs,
        idleTimeoutMs: options.serverIdleTimeoutMs,
        maxPreparedPerConnection: 2_000,
      },
    )
    this.#tls = options.tls
      ? createSecureContext({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) })
      : undefined
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket, maxMessageBytes))
  }

  #accept(socket: Socket, maxMessageBytes: number): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    if (this.#sessions.size >= this.options.maxClients) {
      socket.end(errorResponse({ severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' }))
      return
    }
    const session = new ClientSession(socket, {
      auth: this.options.auth,
      poolMode: this.options.poolMode,
      credentials: this.options.credentials,
      pools: this.pools,
      cancels: this.#cancels,
      statements: this.options.statements,
      tls: this.#tls,
      maxMessageBytes,
      loginTimeoutMs: 60_000,
      log: this.options.log,
      ...(this.options.cache ? { cache: this.options.cache } : {}),
    })
    this.#sessions.add(session)
    clientConnections.inc()
    socket.once('close', () => {
      this.#sessions.delete(session)
      clientConnections.dec()
    })
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.options.port, this.options.host, () => {
        this.#server.off('error', reject)
        const address = this.#server.address()
        resolve({
          host: this.options.host,
          port: typeof address === 'object' && address ? address.port : this.options.port,
        })
      })
    })
  }

  get clientCount(): number {
    return this.#sessions.size
  }

  /** Stops accepting, closes every client and server connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    for (const session of this.#sessions) session.socket.destroy()
    for (const socket of this.#sockets) socket.destroy()
    this.pools.close()
    await closed
  }
}
