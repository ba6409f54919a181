import { connect, type Socket } from 'node:net'
import { serialize } from 'pg-protocol'
import { md5Response, md5Verifier } from '../auth/md5.js'
import { ScramClientExchange, type UpstreamSecret } from '../auth/scram.js'
import { type Frame, FrameReader } from '../protocol/frame-reader.js'
import { Auth, Backend, TxStatus } from '../protocol/message-codes.js'
import { readCString } from '../protocol/message-fields.js'
import { UpstreamError } from './upstream-error.js'

export interface ServerTarget {
  host: string
  port: number
  database: string
  user: string
  secret: UpstreamSecret | undefined
  connectTimeoutMs: number
  maxMessageBytes: number
}

/** Who receives a server connection's messages while it is assigned. */
export interface ServerListener {
  onServerFrames(frames: Frame[]): void
  onServerClose(conn: ServerConnection): void
}

let nextId = 1

/** One connection to PostgreSQL, logged in, framing what it receives. */
export class ServerConnection {
  readonly id = nextId++
  readonly params = new Map<string, string>()
  /** Settings the proxy SET on this connection to match a client (see session-settings.ts). */
  readonly overrides = new Map<string, string>()
  /** Names of the statements prepared on this connection (the proxy's content-derived names). */
  readonly prepared = new Set<string>()
  pid = 0
  secretKey = 0
  txStatus: number = TxStatus.Idle
  closed = false
  lastUsedAt = Date.now()
  /** Set when something left session state behind that must not reach another client. */
  dirty = false
  listener: ServerListener | undefined
  #reader: FrameReader
  #internal: ((frames: Frame[]) => void) | undefined

  private constructor(
    readonly socket: Socket,
    readonly target: ServerTarget,
  ) {
    this.#reader = new FrameReader(target.maxMessageBytes)
  }

  static connect(target: ServerTarget): Promise<ServerConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port })
      socket.setNoDelay(true)
      const conn = new ServerConnection(socket, target)
      let scram: ScramClientExchange | undefined
      let settled = false
      const fail = (err: Error) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        conn.closed = true
        reject(err)
      }
      const timer = setTimeout(
        () => fail(new Error(`connecting to PostgreSQL took longer than ${target.connectTimeoutMs} ms`)),
        target.connectTimeoutMs,
      )
      socket.once('error', fail)
      socket.once('close', () => fail(new Error('PostgreSQL closed the connection during login')))
      socket.once('connect', () => {
        socket.write(serialize.startup({ user: target.user, database: target.database }))
      })
      conn.#internal = (frames) => {
        for (const { type, bytes } of frames) {
          if (type === Backend.Authentication) {
            const code = bytes.readInt32BE(5)
            const secret = target.secret
            if (code === Auth.Ok) continue
            if (!secret) return fail(new Error(`PostgreSQL asks for a password for "${target.user}" and none is known`))
            if (code === Auth.CleartextPassword || code === Auth.MD5Password) {
              if (secret.kind !== 'password') {
                return fail(
                  new Error('PostgreSQL asks for a password, but only a SCRAM key is known; use SCRAM upstream'),
                )
              }
              socket.write(
                serialize.password(
                  code === Auth.CleartextPassword
                    ? secret.password
                    : md5Response(md5Verifier(target.user, secret.password), bytes.subarray(9, 13)),
                ),
              )
            } else if (code === Auth.SASL) {
              scram = new ScramClientExchange(secret)
              socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.start()))
            } else if (code === Auth.SASLContinue && scram) {
              socket.write(serialize.sendSCRAMClientFinalMessage(scram.continue(bytes.toString('utf8', 9))))
            } else if (code === Auth.SASLFinal && scram) {
              scram.finish(bytes.toString('utf8', 9))
            } else {
              return fail(new Error(`unsupported authentication request ${code} from PostgreSQL`))
            }
          } else if (type === Backend.ParameterStatus) {
            conn.#setParam(bytes)
          } else if (type === Backend.BackendKeyData) {
            conn.pid = bytes.readInt32BE(5)
            conn.secretKey = bytes.readInt32BE(9)
          } else if (type === Backend.ErrorResponse) {
            return fail(new UpstreamError(bytes))
          } else if (type === Backend.ReadyForQuery) {
            settled = true
            clearTimeout(timer)
            socket.removeAllListeners('error')
            socket.removeAllListeners('close')
            conn.#internal = undefined
            conn.#attach()
            resolve(conn)
            return
          }
        }
      }
      socket.on('data', (chunk: Buffer) => {
        try {
          conn.#internal?.(conn.#reader.push(chunk))
        } catch (err) {
          fail(err as Error)
        }
      })
    })
  }

  #attach(): void {
    this.socket.on('error', () => this.#onClose())
    this.socket.on('close', () => this.#onClose())
    this.socket.removeAllListeners('data')
    this.socket.on('data', (chunk: Buffer) => {
      let frames: Frame[]
      try {
        frames = this.#reader.push(chunk)
      } catch {
        this.close()
        return
      }
      for (const f of frames) {
        if (f.type === Backend.ParameterStatus) this.#setParam(f.bytes)
        else if (f.type === Backend.ReadyForQuery) this.txStatus = f.bytes[5] as number
      }
      if (this.#internal) this.#internal(frames)
      else if (this.listener) this.listener.onServerFrames(frames)
      else if (frames.some((f) => f.type === Backend.ErrorResponse)) this.close() // e.g. FATAL while idle in the pool
    })
  }

  #setParam(bytes: Buffer): void {
    const [name, after] = readCString(bytes, 5)
    this.params.set(name, readCString(bytes, after)[0])
  }

  #onClose(): void {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    this.listener?.onServerClose(this)
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /**
   * Runs SQL on this connection for the proxy itself (SET to match a client's
   * settings), swallowing its responses. Rejects with the server's error.
   */
  run(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let error: UpstreamError | undefined
      this.#internal = (frames) => {
        for (const f of frames) {
          if (f.type === Backend.ErrorResponse) error = new UpstreamError(f.bytes)
          else if (f.type === Backend.ReadyForQuery) {
            this.#internal = undefined
            if (error) reject(error)
            else resolve()
          }
        }
      }
      this.socket.write(serialize.query(sql))
    })
  }

  /** Asks PostgreSQL, on a new connection, to cancel what this one is running. */
  cancel(): Promise<void> {
    return new Promise((resolve) => {
      const s = connect({ host: this.target.host, port: this.target.port })
      s.once('connect', () => s.end(serialize.cancel(this.pid, this.secretKey)))
      s.once('close', () => resolve())
      s.once('error', () => resolve())
    })
  }

  /** Sends Terminate and lets the socket drain; the listener hears of it at once. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (!this.socket.destroyed) this.socket.end(serialize.end())
    setTimeout(() => this.socket.destroy(), 1000).unref()
    this.listener?.onServerClose(this)
  }
}
