import { createHash, randomBytes, randomInt } from 'node:crypto'
import type { Socket } from 'node:net'
import { type SecureContext, TLSSocket } from 'node:tls'
import { isCairnError, type Logger } from '@cairn/core'
import type { StatementAnalysis } from '../analysis/analyze-sql.js'
import type { RelationResolver } from '../analysis/relation-resolver.js'
import type { StatementAnalyzer } from '../analysis/statement-analyzer.js'
import type { CredentialStore, UserCredential } from '../auth/credential-store.js'
import { md5Response, md5Verifier } from '../auth/md5.js'
import { SCRAM_MECHANISM, ScramServerExchange, type UpstreamSecret, verifierFromPassword } from '../auth/scram.js'
import type { CacheEntry } from '../cache/cache-entry.js'
import { cacheKey } from '../cache/cache-key.js'
import { type CachePolicy, cacheability } from '../cache/cacheability.js'
import { ALL_RELATIONS, type CacheOutcome, type ResultCache } from '../cache/result-cache.js'
import {
  authenticationMD5,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  backendKeyData,
  bindComplete,
  closeComplete,
  type ErrorFields,
  errorResponse,
  parameterStatus,
  parseComplete,
  readyForQuery,
} from '../protocol/backend-messages.js'
import { type Frame, FrameReader } from '../protocol/frame-reader.js'
import {
  Backend,
  CANCEL_REQUEST_CODE,
  Frontend,
  GSSENC_REQUEST_CODE,
  MAX_STARTUP_PACKET_LENGTH,
  PROTOCOL_3_0,
  SSL_REQUEST_CODE,
  TxStatus,
} from '../protocol/message-codes.js'
import {
  readBind,
  readCommandTag,
  readCString,
  readErrorFields,
  readExecute,
  readParse,
  readQuery,
  readTarget,
  rowsFromTag,
} from '../protocol/message-fields.js'
import { MessageWriter } from '../protocol/message-writer.js'
import type { StatementRecord, StatementSink } from '../telemetry/statement-record.js'
import type { ServerConnection, ServerListener } from '../upstream/server-connection.js'
import type { ServerPool } from '../upstream/server-pool.js'
import { UpstreamError } from '../upstream/upstream-error.js'
import type { CancelRegistry } from './cancel-registry.js'
import { desiredSettings, settingsSql } from './session-settings.js'
import { leavesSessionState } from './session-state.js'

export interface SessionOptions {
  auth: 'scram-sha-256' | 'md5' | 'trust'
  poolMode: 'transaction' | 'session'
  credentials: CredentialStore
  pools: { get(database: string, user: string, secret: UpstreamSecret | undefined): ServerPool }
  cancels: CancelRegistry
  statements: StatementSink
  tls: SecureContext | undefined
  maxMessageBytes: number
  loginTimeoutMs: number
  log: Logger
  /** The result cache, when on. */
  cache?: SessionCache
}

/** What a session needs to answer from the result cache and to invalidate it. */
export interface SessionCache {
  results: ResultCache
  analyzer: StatementAnalyzer
  resolver: RelationResolver
  policy: CachePolicy
  /** Called after DDL went through, so the catalog snapshot (views, new tables) is refreshed. */
  onDdl(): void
}

/**
 * Adds a message to what goes out, extending the previous slice when the two are adjacent in
 * the same received chunk (the usual case: a result's rows arrive back to back), so a large
 * result is written as the slices it arrived in, not copied message by message.
 */
function append(out: Buffer[], bytes: Buffer): void {
  const last = out[out.length - 1]
  if (last && last.buffer === bytes.buffer && last.byteOffset + last.length === bytes.byteOffset) {
    out[out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + bytes.length)
  } else {
    out.push(bytes)
  }
}

/** A statement under way, as far as telemetry needs it. */
interface StatementProgress {
  text: string
  /** performance.now() when it started. */
  started: number
  rows: number
  bytes: number
  /** Which statement of a multi-statement simple query. */
  index?: number
  /** The Bind frame it executes with (extended protocol). */
  bind?: Buffer
  cache?: CacheOutcome
  cacheReason?: string
}

/** An extended-protocol batch the cache may answer. */
interface ExtendedPlan {
  key: string
  relations: readonly string[]
  /** The statement's SQL. */
  text: string
  /** The batch's Parse, if it had one. */
  parse: Frame | undefined
}

/** The server-side name of a statement: the same text and parameter types share one, on every connection. */
function statementName(query: string, types: Buffer): string {
  return `cairn_${createHash('sha1').update(query).update(types).digest('base64url')}`
}

/** A miss being read from PostgreSQL, to be stored when it completes cleanly. */
interface Capture {
  versions: readonly number[]
  /** performance.now() when the client sent it, for the admission hook's cost. */
  started: number
  done: (entry: CacheEntry | undefined, durationMs?: number) => void
  chunks: Buffer[]
  bytes: number
  ok: boolean
}

/** What the proxy waits for from the server, one entry per client message that gets a response. */
type Expect =
  | { kind: 'parse'; serverName?: string; clientName?: string; swallow: boolean }
  | { kind: 'bind' | 'close' }
  | { kind: 'describe-portal' | 'sync'; capture?: Capture }
  | { kind: 'describe-statement' }
  | {
      kind: 'execute'
      text: string
      started: number
      rows: number
      bytes: number
      capture?: Capture
      cache?: CacheOutcome
      cacheReason?: string
    }
  | {
      kind: 'query'
      text: string
      started: number
      index: number
      bytes: number
      rows: number
      capture?: Capture
      cache?: CacheOutcome
      cacheReason?: string
    }
  | { kind: 'function' }
  | { kind: 'internal' }
  | { kind: 'synthetic'; bytes: Buffer }

interface ClientStatement {
  serverName: string
  query: string
  /** The client's Parse, renamed to `serverName`, to send to a connection that lacks it. */
  parse: Buffer
}

type Phase = 'startup' | 'sasl-initial' | 'sasl-final' | 'md5' | 'password' | 'connecting' | 'ready' | 'closed'

// A mock verifier for unknown users, so the exchange runs to its end and fails like a wrong password.
const mockVerifier = verifierFromPassword(randomBytes(16).toString('hex'))

let sessions = 0

/**
 * One client connection: startup, TLS, authentication, then the query phase,
 * where client messages go to a server connection borrowed from the pool for
 * one transaction (or pinned for the session) and responses come back as
 * bytes. Named prepared statements are renamed after their text so any server
 * connection can serve them; the proxy prepares them where they are missing.
 */
export class ClientSession implements ServerListener {
  readonly id = `c${++sessions}`
  readonly cancelPid = randomInt(1, 2 ** 31 - 1)
  readonly cancelKey = randomInt(0, 2 ** 31 - 1)
  socket: Socket
  #phase: Phase = 'startup'
  #startupBuf: Buffer = Buffer.alloc(0)
  readonly #reader: FrameReader
  #params: Record<string, string> = {}
  user = ''
  database = ''
  applicationName = ''
  #credential: UserCredential | undefined
  #scram: ScramServerExchange | undefined
  #md5Salt: Buffer | undefined
  #secret: UpstreamSecret | undefined
  #pool: ServerPool | undefined
  #settings = new Map<string, string>()

  #server: ServerConnection | undefined
  #acquiring = false
  #pending: Frame[] = []
  #queue: Expect[] = []
  /** Extended-protocol messages were sent and their Sync has not: the server may not be released. */
  #awaitingSync = false
  #skipUntilSync = false
  #pinned = false
  #clientCopy = false
  #poolWaitMs = 0
  readonly #statements = new Map<string, ClientStatement>()
  readonly #portals = new Map<string, string>()
  /** Each portal's Bind frame, so telemetry can record the parameters a statement ran with. */
  readonly #portalBinds = new Map<string, Buffer>()
  #unnamedQuery = ''
  #loginTimer: NodeJS.Timeout
  /** Waiting for the result cache: client messages queue in #pending meanwhile. */
  #lookingUp = false
  /** For the next Query forwarded: a miss to store, and what the cache said about it. */
  #next: { capture?: Capture; cache?: CacheOutcome; cacheReason?: string } = {}
  /** Relations written in the current transaction, invalidated when it commits. */
  readonly #txWrites = new Set<string>()
  #lastTag = ''
  /** Output to the client waits for this (an invalidation that must land before the client hears of the commit). */
  #gate: Promise<void> | undefined

  constructor(
    socket: Socket,
    private readonly options: SessionOptions,
  ) {
    this.socket = socket
    this.#reader = new FrameReader(options.maxMessageBytes)
    socket.setNoDelay(true)
    this.#listen(socket)
    this.#loginTimer = setTimeout(() => {
      this.#fatal({ severity: 'FATAL', code: '08006', message: 'canceling authentication due to timeout' })
    }, options.loginTimeoutMs)
  }

  #listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', () => this.#onClientGone())
    socket.on('close', () => this.#onClientGone())
  }

  // ─── Startup and authentication ──────────────────────────────────────────────

  #onData(chunk: Buffer): void {
    try {
      if (this.#phase === 'startup') return this.#onStartupData(chunk)
      const frames = this.#reader.push(chunk)
      if (frames.length === 0) return
      if (this.#phase === 'ready') return this.#onClientFrames(frames, performance.now())
      // Sent ahead of ReadyForQuery while the proxy is still borrowing a connection: held until then.
      if (this.#phase === 'connecting') return void this.#pending.push(...frames)
      for (const frame of frames) this.#onAuthFrame(frame)
    } catch (err) {
      this.#protocolViolation(err)
    }
  }

  #onStartupData(chunk: Buffer): void {
    this.#startupBuf = Buffer.concat([this.#startupBuf, chunk])
    while (this.#phase === 'startup' && this.#startupBuf.length >= 8) {
      const length = this.#startupBuf.readInt32BE(0)
      if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH) {
        return this.#fatal({ severity: 'FATAL', code: '08P01', message: 'invalid length of startup packet' })
      }
      if (this.#startupBuf.length < length) return
      const packet = this.#startupBuf.subarray(0, length)
      this.#startupBuf = this.#startupBuf.subarray(length)
      const code = packet.readInt32BE(4)
      if (code === SSL_REQUEST_CODE) {
        if (this.#startupBuf.length > 0) {
          // Bytes after an SSLRequest before the handshake could be injected in the clear (CVE-2021-23214).
          return this.#fatal({
            severity: 'FATAL',
            code: '08P01',
            message: 'received unencrypted data after SSL request',
          })
        }
        if (this.options.tls) return this.#upgradeToTls(this.options.tls)
        this.socket.write('N')
      } else if (code === GSSENC_REQUEST_CODE) {
        this.socket.write('N')
      } else if (code === CANCEL_REQUEST_CODE) {
        if (length === 16) this.options.cancels.cancel(packet.readInt32BE(8), packet.readInt32BE(12))
        this.#close()
        return
      } else if (code === PROTOCOL_3_0 || code >> 16 === 3) {
        this.#onStartupMessage(packet)
      } else {
        return this.#fatal({
          severity: 'FATAL',
          code: '0A000',
          message: `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: server supports 3.0 to 3.0`,
        })
      }
    }
  }

  #upgradeToTls(secureContext: SecureContext): void {
    this.socket.removeAllListeners('data')
    this.socket.removeAllListeners('error')
    this.socket.removeAllListeners('close')
    this.socket.write('S')
    const tls = new TLSSocket(this.socket, { isServer: true, secureContext })
    tls.setNoDelay(true)
    this.socket = tls
    this.#listen(tls)
  }

  #onStartupMessage(packet: Buffer): void {
    let offset = 8
    while (offset < packet.length && packet[offset] !== 0) {
      const [name, afterName] = readCString(packet, offset)
      const [value, afterValue] = readCString(packet, afterName)
      this.#params[name] = value
      offset = afterValue
    }
    this.user = this.#params.user ?? ''
    if (!this.user) {
      return this.#fatal({
        severity: 'FATAL',
        code: '28000',
        message: 'no PostgreSQL user name specified in startup packet',
      })
    }
    this.database = this.#params.database || this.user
    this.applicationName = this.#params.application_name ?? ''
    try {
      this.#settings = desiredSettings(this.#params)
    } catch (err) {
      return this.#fatal({ severity: 'FATAL', code: '22023', message: (err as Error).message })
    }
    // Pre-auth bytes left over (pipelined startup) are handled as frames.
    const rest = this.#startupBuf
    this.#startupBuf = Buffer.alloc(0)
    this.#phase = 'password'
    void this.#authenticate().then(() => {
      if (rest.length) this.#onData(rest)
    })
  }

  async #authenticate(): Promise<void> {
    try {
      this.#credential = await this.options.credentials.lookup(this.user)
    } catch (err) {
      return this.#fatal({ severity: 'FATAL', code: '08006', message: `user lookup failed: ${(err as Error).message}` })
    }
    const c = this.#credential
    if (this.options.auth === 'trust') {
      this.#secret = c?.password ? { kind: 'password', password: c.password } : undefined
      return this.#loggedIn()
    }
    if (this.options.auth === 'md5' && !c?.scram) {
      this.#md5Salt = randomBytes(4)
      this.#phase = 'md5'
      this.socket.write(authenticationMD5(this.#md5Salt))
      return
    }
    const verifier = c?.scram ?? (c?.password ? verifierFromPassword(c.password) : mockVerifier)
    this.#scram = new ScramServerExchange(verifier)
    this.#phase = 'sasl-initial'
    this.socket.write(authenticationSASL([SCRAM_MECHANISM]))
  }

  #onAuthFrame(frame: Frame): void {
    if (frame.type !== Frontend.Password || !['sasl-initial', 'sasl-final', 'md5'].includes(this.#phase)) {
      if (frame.type === Frontend.Terminate) return this.#close()
      return this.#fatal({
        severity: 'FATAL',
        code: '08P01',
        message: `expected password response, got message type ${String.fromCharCode(frame.type)}`,
      })
    }
    const body = frame.bytes
    const failed = () =>
      this.#fatal({
        severity: 'FATAL',
        code: '28P01',
        message: `password authentication failed for user "${this.user}"`,
      })
    if (this.#phase === 'md5') {
      const [answer] = readCString(body, 5)
      const c = this.#credential
      const verifier = c?.md5 ?? (c?.password ? md5Verifier(this.user, c.password) : undefined)
      if (!verifier || !this.#md5Salt || md5Response(verifier, this.#md5Salt) !== answer) return failed()
      this.#secret = c?.password ? { kind: 'password', password: c.password } : undefined
      return void this.#loggedIn()
    }
    const scram = this.#scram as ScramServerExchange
    if (this.#phase === 'sasl-initial') {
      const [mechanism, after] = readCString(body, 5)
      if (mechanism !== SCRAM_MECHANISM) {
        return this.#fatal({ severity: 'FATAL', code: '08P01', message: `unsupported SASL mechanism "${mechanism}"` })
      }
      const length = body.readInt32BE(after)
      const serverFirst = scram.start(body.toString('utf8', after + 4, after + 4 + Math.max(0, length)))
      this.#phase = 'sasl-final'
      this.socket.write(authenticationSASLContinue(serverFirst))
      return
    }
    const serverFinal = this.#credential ? scram.finish(body.toString('utf8', 5)) : undefined
    if (!serverFinal) return failed()
    this.socket.write(authenticationSASLFinal(serverFinal))
    const c = this.#credential as UserCredential
    this.#secret = c.password
      ? { kind: 'password', password: c.password }
      : { kind: 'scram-client-key', clientKey: scram.clientKey as Buffer, serverKey: c.scram?.serverKey }
    void this.#loggedIn()
  }

  /** Authenticated: check the database by borrowing a server connection, then report its settings. */
  async #loggedIn(): Promise<void> {
    this.#phase = 'connecting'
    this.socket.write(authenticationOk())
    this.#pool = this.options.pools.get(this.database, this.user, this.#secret)
    let conn: ServerConnection
    try {
      conn = (await this.#pool.acquire()).conn
    } catch (err) {
      return this.#upstreamFailure(err)
    }
    try {
      const sql = settingsSql(conn, this.#settings)
      if (sql) await conn.run(sql)
    } catch (err) {
      this.#pool.release(conn)
      return this.#upstreamFailure(err)
    }
    if ((this.#phase as Phase) === 'closed') return this.#pool.release(conn)
    clearTimeout(this.#loginTimer)
    const w: Buffer[] = []
    for (const [name, value] of conn.params) w.push(parameterStatus(name, value))
    w.push(backendKeyData(this.cancelPid, this.cancelKey), readyForQuery(TxStatus.Idle))
    this.socket.write(Buffer.concat(w))
    this.options.cancels.register(this)
    this.#phase = 'ready'
    if (this.options.poolMode === 'session') {
      this.#pinned = true
      this.#assign(conn)
    } else {
      this.#pool.release(conn)
    }
    if (this.#pending.length) {
      const early = this.#pending
      this.#pending = []
      this.#onClientFrames(early, performance.now())
    }
  }

  #upstreamFailure(err: unknown): void {
    if (err instanceof UpstreamError) {
      this.socket.write(err.frame)
      return this.#close()
    }
    if (isCairnError(err) && err.sqlstate) {
      return this.#fatal({ severity: 'FATAL', code: err.sqlstate, message: err.message })
    }
    this.#fatal({
      severity: 'FATAL',
      code: '08006',
      message: `could not connect to PostgreSQL: ${(err as Error).message}`,
    })
  }

  // ─── Query phase: client → server ──────────────────────────────────────────

  #onClientFrames(frames: Frame[], arrived: number): void {
    if (this.#server) {
      if (this.options.cache) {
        this.#next = {
          cache: 'uncacheable',
          cacheReason: this.#pinned ? 'session pinned (it changed session state)' : 'inside a transaction',
        }
      }
      return this.#forward(frames, arrived)
    }
    if (frames.length === 1 && frames[0]?.type === Frontend.Terminate) return this.#close()
    if (this.#lookingUp) return void this.#pending.push(...frames)
    const cache = this.options.cache
    const only = frames.length === 1 ? (frames[0] as Frame) : undefined
    if (cache && !this.#pinned && !this.#acquiring && only?.type === Frontend.Query) {
      const text = readQuery(only.bytes)
      const verdict = cacheability(cache.analyzer.analyze(text), (a) => this.#baseRelations(cache, a), cache.policy)
      if (verdict.cacheable) {
        this.#lookingUp = true
        const key = cacheKey({ database: this.database, user: this.user, settings: this.#settings, request: text })
        return void this.#fromCache(cache, key, [...verdict.relations, ALL_RELATIONS], frames, arrived)
      }
      cache.results.recordOutcome('uncacheable')
      this.#next = { cache: 'uncacheable', cacheReason: verdict.reason }
    } else if (cache && !this.#pinned && !this.#acquiring && frames.some((f) => f.type === Frontend.Execute)) {
      const plan = this.#extendedPlan(cache, frames)
      if ('key' in plan) {
        this.#lookingUp = true
        return void this.#fromCache(cache, plan.key, [...plan.relations, ALL_RELATIONS], frames, arrived, plan)
      }
      cache.results.recordOutcome('uncacheable')
      this.#next = { cache: 'uncacheable', cacheReason: plan.reason }
    }
    this.#toServer(frames, arrived)
  }

  /**
   * An extended-protocol batch the cache can answer: `[Parse] Bind [Describe portal] Execute Sync`
   * on the unnamed portal, without a row limit. Keyed by the statement (text and parameter types)
   * and the Bind's parameter values and formats.
   */
  #extendedPlan(cache: SessionCache, frames: Frame[]): ExtendedPlan | { reason: string } {
    const shape = frames.map((f) => String.fromCharCode(f.type)).join('')
    if (!/^P?BD?ES$/.test(shape)) return { reason: `extended-protocol batch ${shape} (cached: [P] B [D] E S)` }
    const parse = shape[0] === 'P' ? readParse((frames[0] as Frame).bytes) : undefined
    const bindFrame = frames[parse ? 1 : 0] as Frame
    const bind = readBind(bindFrame.bytes)
    const describe = shape.includes('D') ? readTarget((frames[parse ? 2 : 1] as Frame).bytes) : undefined
    const execute = readExecute((frames[frames.length - 2] as Frame).bytes)
    if (bind.portal !== '' || execute.portal !== '' || execute.maxRows !== 0 || (describe && describe.kind !== 0x50)) {
      return { reason: 'named portal, row limit or statement Describe' }
    }
    let text: string
    let statementId: string
    if (parse) {
      if (parse.name !== bind.statement) return { reason: 'Bind of another statement than the one parsed' }
      if (parse.name !== '' && this.#statements.has(parse.name)) return { reason: 'statement parsed twice' }
      text = parse.query
      statementId = statementName(parse.query, (frames[0] as Frame).bytes.subarray(parse.typesOffset))
    } else {
      const st = bind.statement === '' ? undefined : this.#statements.get(bind.statement)
      if (!st) return { reason: 'Bind of a statement not parsed in this batch' }
      text = st.query
      statementId = st.serverName
    }
    const verdict = cacheability(cache.analyzer.analyze(text), (a) => this.#baseRelations(cache, a), cache.policy)
    if (!verdict.cacheable) return { reason: verdict.reason }
    const request = Buffer.concat([
      Buffer.from(`${statementId}\0${describe ? 'D' : '-'}\0`),
      bindFrame.bytes.subarray(bind.restOffset),
    ])
    return {
      key: cacheKey({ database: this.database, user: this.user, settings: this.#settings, request }),
      relations: verdict.relations,
      text,
      parse: parse ? (frames[0] as Frame) : undefined,
    }
  }

  /** The statement's relations, resolved and views expanded; undefined if one is unknown to the catalog snapshot. */
  #baseRelations(cache: SessionCache, a: StatementAnalysis): string[] | undefined {
    const out = new Set<string>()
    for (const ref of a.relationsRead) {
      const q = cache.resolver.resolveKnown(ref, this.#settings.get('search_path'), this.user)
      if (!q) return undefined
      for (const base of cache.resolver.expand(q)) out.add(base)
    }
    return [...out].sort()
  }

  async #fromCache(
    cache: SessionCache,
    key: string,
    relations: string[],
    frames: Frame[],
    arrived: number,
    extended?: ExtendedPlan,
  ): Promise<void> {
    const lookup = await cache.results.lookup(key, relations)
    let entry = lookup.kind === 'hit' ? lookup.entry : undefined
    if (lookup.kind === 'miss') {
      // Single flight: another session reading the same key from PostgreSQL shares its answer.
      const fill = cache.results.pendingFill(key)
      const shared = fill ? await fill : undefined
      // Only an answer read at the versions this lookup saw: one read before a later commit would be stale.
      if (shared && lookup.versions?.every((v, i) => v === shared.versions[i])) entry = shared
      if (!entry && lookup.versions) {
        this.#next = {
          capture: {
            versions: lookup.versions,
            started: arrived,
            done: cache.results.beginFill(key, relations),
            chunks: [],
            bytes: 0,
            ok: true,
          },
          cache: 'miss',
        }
      } else if (!entry) {
        this.#next = { cache: 'miss' }
      }
    } else if (lookup.kind === 'bypass') {
      this.#next = { cache: 'bypass' }
    }
    this.#lookingUp = false
    if (this.#phase === 'closed') {
      this.#abandonCaptures()
      return
    }
    if (entry) {
      const head: Buffer[] = []
      if (extended) {
        // The batch's Parse takes effect as if it had run: the statement is prepared on a server when first needed.
        if (extended.parse) {
          this.#registerParse(extended.parse.bytes)
          head.push(parseComplete())
        }
        head.push(bindComplete())
      }
      this.#send(Buffer.concat([...head, entry.body, readyForQuery(TxStatus.Idle)]))
      const now = performance.now()
      cache.results.recordOutcome('hit', now - arrived)
      const text = extended ? extended.text : readQuery((frames[0] as Frame).bytes)
      this.#record({ text, started: arrived, rows: entry.rows, bytes: entry.body.length, cache: 'hit' }, now)
      const pending = this.#pending
      this.#pending = []
      if (pending.length) this.#onClientFrames(pending, performance.now())
      return
    }
    if (this.#next.cache) cache.results.recordOutcome(this.#next.cache)
    const all = [...frames, ...this.#pending]
    this.#pending = []
    this.#toServer(all, arrived)
  }

  /**
   * Takes a client's Parse into its statements: the unnamed one's text, or a named one under
   * the server-side name its text and parameter types give (prepared on a server when needed).
   */
  #registerParse(bytes: Buffer): ClientStatement | undefined {
    const { name, query, typesOffset } = readParse(bytes)
    if (name === '') {
      this.#unnamedQuery = query
      return undefined
    }
    const types = bytes.subarray(typesOffset)
    const serverName = statementName(query, types)
    const parse = new MessageWriter().cstring(serverName).cstring(query).bytes(types).frame(Frontend.Parse)
    const st = { serverName, query, parse }
    this.#statements.set(name, st)
    return st
  }

  /** Borrows a server connection (at once if one is idle) and forwards the frames to it. */
  #toServer(frames: Frame[], arrived: number): void {
    const pool = this.#pool as ServerPool
    if (!this.#acquiring) {
      const idle = pool.tryAcquire()
      if (idle) {
        this.#poolWaitMs = 0
        this.#begin(idle)
        return this.#forward(frames, arrived)
      }
    }
    this.#pending.push(...frames)
    if (this.#acquiring) return
    this.#acquiring = true
    pool.acquire().then(
      ({ conn, waitMs }) => {
        this.#acquiring = false
        if (this.#phase === 'closed') return pool.release(conn)
        this.#poolWaitMs = waitMs
        this.#begin(conn)
        const pending = this.#pending
        this.#pending = []
        this.#forward(pending, arrived)
      },
      (err: unknown) => {
        this.#acquiring = false
        // Each Query or Sync waiting for a connection gets its answer: the error, then ReadyForQuery.
        const answers = this.#pending.filter(
          (f) => f.type === Frontend.Query || f.type === Frontend.Sync || f.type === Frontend.FunctionCall,
        ).length
        this.#pending = []
        const fields: ErrorFields =
          isCairnError(err) && err.sqlstate
            ? { severity: 'ERROR', code: err.sqlstate, message: err.message }
            : {
                severity: 'ERROR',
                code: '08006',
                message: `could not connect to PostgreSQL: ${(err as Error).message}`,
              }
        if (err instanceof UpstreamError) Object.assign(fields, { code: err.sqlstate, message: err.message })
        // The statements fail; the client may go on (the next one tries again).
        const reply = Buffer.concat([errorResponse(fields), readyForQuery(TxStatus.Idle)])
        this.#send(Buffer.concat(Array.from({ length: Math.max(1, answers) }, () => reply)))
      },
    )
  }

  /** Takes a server connection for this client's next transaction, matching its settings first. */
  #begin(conn: ServerConnection): void {
    this.#assign(conn)
    const sql = settingsSql(conn, this.#settings)
    if (sql) {
      // Pipelined ahead of the client's own messages; the responses are swallowed.
      this.#queue.push({ kind: 'internal' })
      conn.write(new MessageWriter().cstring(sql).frame(Frontend.Query))
    }
  }

  #assign(conn: ServerConnection): void {
    this.#server = conn
    conn.listener = this
  }

  #forward(frames: Frame[], arrived: number): void {
    const server = this.#server as ServerConnection
    const out: Buffer[] = []
    for (const frame of frames) {
      const { type, bytes } = frame
      if (this.#skipUntilSync && type !== Frontend.Sync) continue
      switch (type) {
        case Frontend.Query: {
          const text = readQuery(bytes)
          this.#pinIf(text, server)
          this.#noteWrites(text)
          this.#queue.push({ kind: 'query', text, started: arrived, index: 0, bytes: 0, rows: 0, ...this.#next })
          this.#next = {}
          out.push(bytes)
          break
        }
        case Frontend.Parse: {
          this.#awaitingSync = true
          const { name, query } = readParse(bytes)
          this.#pinIf(query, server)
          if (name !== '' && this.#statements.has(name)) {
            this.#failUntilSync({
              severity: 'ERROR',
              code: '42P05',
              message: `prepared statement "${name}" already exists`,
            })
            break
          }
          const st = this.#registerParse(bytes)
          if (!st) {
            this.#queue.push({ kind: 'parse', swallow: false })
            out.push(bytes)
          } else if (server.prepared.has(st.serverName)) {
            this.#queue.push({ kind: 'synthetic', bytes: parseComplete() })
          } else {
            server.prepared.add(st.serverName)
            this.#queue.push({ kind: 'parse', serverName: st.serverName, clientName: name, swallow: false })
            out.push(st.parse)
          }
          break
        }
        case Frontend.Bind: {
          this.#awaitingSync = true
          const { portal, statement, restOffset } = readBind(bytes)
          this.#portalBinds.set(portal, bytes)
          if (statement === '') {
            this.#portals.set(portal, this.#unnamedQuery)
            this.#queue.push({ kind: 'bind' })
            out.push(bytes)
            break
          }
          const st = this.#ensurePrepared(statement, server, out)
          if (!st) break
          this.#portals.set(portal, st.query)
          this.#queue.push({ kind: 'bind' })
          out.push(
            new MessageWriter()
              .cstring(portal)
              .cstring(st.serverName)
              .bytes(bytes.subarray(restOffset))
              .frame(Frontend.Bind),
          )
          break
        }
        case Frontend.Describe: {
          this.#awaitingSync = true
          const { kind, name } = readTarget(bytes)
          if (kind === 0x50 /* P */) {
            this.#queue.push({
              kind: 'describe-portal',
              ...(this.#next.capture ? { capture: this.#next.capture } : {}),
            })
            out.push(bytes)
          } else if (name === '') {
            this.#queue.push({ kind: 'describe-statement' })
            out.push(bytes)
          } else {
            const st = this.#ensurePrepared(name, server, out)
            if (!st) break
            this.#queue.push({ kind: 'describe-statement' })
            out.push(new MessageWriter().byte(kind).cstring(st.serverName).frame(Frontend.Describe))
          }
          break
        }
        case Frontend.Execute: {
          this.#awaitingSync = true
          const { portal } = readExecute(bytes)
          this.#noteWrites(this.#portals.get(portal) ?? '')
          this.#queue.push({
            kind: 'execute',
            ...this.#next,
            text: this.#portals.get(portal) ?? '',
            ...(this.#portalBinds.has(portal) ? { bind: this.#portalBinds.get(portal) } : {}),
            started: arrived,
            rows: 0,
            bytes: 0,
          })
          out.push(bytes)
          break
        }
        case Frontend.Close: {
          this.#awaitingSync = true
          const { kind, name } = readTarget(bytes)
          if (kind === 0x53 /* S */ && name !== '') {
            // Shared on the server under its content name: forget the client's name, keep the server's.
            this.#statements.delete(name)
            this.#queue.push({ kind: 'synthetic', bytes: closeComplete() })
          } else {
            if (kind === 0x50) {
              this.#portals.delete(name)
              this.#portalBinds.delete(name)
            }
            this.#queue.push({ kind: 'close' })
            out.push(bytes)
          }
          break
        }
        case Frontend.Sync:
          this.#skipUntilSync = false
          this.#awaitingSync = false
          this.#queue.push({ kind: 'sync', ...(this.#next.capture ? { capture: this.#next.capture } : {}) })
          this.#next = {}
          out.push(bytes)
          break
        case Frontend.Flush:
          out.push(bytes)
          break
        case Frontend.CopyData:
          out.push(bytes)
          break
        case Frontend.CopyDone:
        case Frontend.CopyFail:
          this.#clientCopy = false
          out.push(bytes)
          break
        case Frontend.FunctionCall:
          this.#queue.push({ kind: 'function' })
          out.push(bytes)
          break
        case Frontend.Terminate:
          this.#flush(server, out)
          return this.#close()
        default:
          this.#flush(server, out)
          return this.#protocolViolation(new Error(`invalid frontend message type ${type}`))
      }
    }
    this.#flush(server, out)
    this.#drainSynthetic()
    this.#maybeRelease()
  }

  /** Remembers what this statement writes, to invalidate it in the cache when its transaction ends. */
  #noteWrites(text: string): void {
    const cache = this.options.cache
    if (!cache || !text) return
    for (const a of cache.analyzer.analyze(text)) {
      for (const ref of a.relationsWritten) {
        this.#txWrites.add(cache.resolver.resolve(ref, this.#settings.get('search_path'), this.user))
      }
      if (a.kind === 'ddl' || a.kind === 'unknown') {
        // DDL can change what any statement returns (a dropped column, a redefined view); unparsed text could be anything.
        this.#txWrites.add(ALL_RELATIONS)
        if (a.kind === 'ddl') cache.onDdl()
      }
    }
  }

  /** Writes to the client, after any invalidation it must not overtake. */
  #send(bytes: Buffer): void {
    const gate = this.#gate
    if (!gate) {
      this.socket.write(bytes)
      return
    }
    this.#gate = gate.then(() => {
      if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes)
    })
  }

  /** Holds all later output until `p` settles. */
  #holdUntil(p: Promise<void>): void {
    const gate: Promise<void> = (this.#gate ?? Promise.resolve()).then(() => p)
    this.#gate = gate
    void gate.then(() => {
      if (this.#gate === gate) this.#gate = undefined
    })
  }

  /** A transaction ended (ReadyForQuery `I`): unless it rolled back, invalidate what it wrote before the client learns of it. */
  #transactionEnded(out: Buffer[]): void {
    const cache = this.options.cache
    if (!cache || this.#txWrites.size === 0) return
    const relations = [...this.#txWrites]
    this.#txWrites.clear()
    if (this.#lastTag === 'ROLLBACK') return
    if (out.length) this.#send(Buffer.concat(out.splice(0)))
    this.#holdUntil(cache.results.bump(relations, 'proxy'))
  }

  #flush(server: ServerConnection, out: Buffer[]): void {
    if (out.length === 1) server.write(out[0] as Buffer)
    else if (out.length > 1) server.write(Buffer.concat(out))
  }

  /** The client's statement, prepared on this server connection (the Parse is sent ahead when missing). */
  #ensurePrepared(name: string, server: ServerConnection, out: Buffer[]): ClientStatement | undefined {
    const st = this.#statements.get(name)
    if (!st) {
      this.#failUntilSync({
        severity: 'ERROR',
        code: '26000',
        message: `prepared statement "${name}" does not exist`,
      })
      return undefined
    }
    if (!server.prepared.has(st.serverName)) {
      server.prepared.add(st.serverName)
      this.#queue.push({ kind: 'parse', serverName: st.serverName, swallow: true })
      out.push(st.parse)
    }
    return st
  }

  /** Answers an error the proxy found itself and, as PostgreSQL does, ignores messages until Sync. */
  #failUntilSync(fields: ErrorFields): void {
    this.#queue.push({ kind: 'synthetic', bytes: errorResponse(fields) })
    this.#skipUntilSync = true
  }

  #pinIf(sql: string, server: ServerConnection): void {
    if (this.#pinned || !leavesSessionState(sql)) return
    this.#pinned = true
    server.dirty = true
    if (/\b(?:deallocate|discard)\b/i.test(sql)) server.prepared.clear()
  }

  // ─── Query phase: server → client ──────────────────────────────────────────

  onServerFrames(frames: Frame[]): void {
    const out: Buffer[] = []
    let fatal = false
    const now = performance.now()
    for (const frame of frames) {
      const { type, bytes } = frame
      const head = this.#queue[0]
      if (head?.kind === 'internal') {
        if (type === Backend.ErrorResponse) {
          const f = readErrorFields(bytes)
          this.options.log.warn(
            { session: this.id, error: f.M },
            'could not apply client settings on a server connection',
          )
        }
        if (type === Backend.ReadyForQuery) this.#queue.shift()
        continue
      }
      if (
        type === Backend.NoticeResponse ||
        type === Backend.NotificationResponse ||
        type === Backend.ParameterStatus
      ) {
        // A replayed result would lose these: such a result is not stored.
        if (head?.kind === 'query' && head.capture) head.capture.ok = false
        append(out, bytes)
        continue
      }
      if (type === Backend.ReadyForQuery && bytes[5] === TxStatus.Idle) this.#transactionEnded(out)
      if (!head) {
        // Nothing asked for it: a FATAL before the server goes away, typically. Pass it on.
        append(out, bytes)
        if (type === Backend.ErrorResponse && readErrorFields(bytes).S === 'FATAL') fatal = true
        continue
      }
      if (type === Backend.ErrorResponse) {
        const fields = readErrorFields(bytes)
        if (fields.S === 'FATAL' || fields.S === 'PANIC') fatal = true
        append(out, bytes)
        this.#onError(head, fields.C ?? 'XX000', now)
        continue
      }
      switch (head.kind) {
        case 'parse':
          if (!head.swallow) append(out, bytes)
          this.#queue.shift()
          break
        case 'bind':
        case 'close':
          append(out, bytes)
          this.#queue.shift()
          break
        case 'describe-portal':
          append(out, bytes)
          this.#capture(head.capture, type, bytes)
          this.#queue.shift()
          break
        case 'describe-statement':
          append(out, bytes)
          if (type !== Backend.ParameterDescription) this.#queue.shift()
          break
        case 'execute': {
          append(out, bytes)
          this.#capture(head.capture, type, bytes)
          const ended =
            this.#countResult(head, type, bytes) ||
            type === Backend.PortalSuspended ||
            type === Backend.EmptyQueryResponse
          if (ended) {
            this.#record(head, now)
            this.#queue.shift()
          }
          break
        }
        case 'query': {
          append(out, bytes)
          const capture = head.capture
          if (type !== Backend.ReadyForQuery) this.#capture(capture, type, bytes)
          if (this.#countResult(head, type, bytes)) {
            this.#record(head, now)
            head.index++
            head.started = now
            head.bytes = 0
            head.rows = 0
          } else if (type === Backend.ReadyForQuery) {
            this.#queue.shift()
            if (capture) this.#finishCapture(capture, head.index === 1)
          }
          break
        }
        case 'function':
          append(out, bytes)
          if (type === Backend.ReadyForQuery) this.#queue.shift()
          break
        case 'sync':
          append(out, bytes)
          if (type === Backend.ReadyForQuery) {
            this.#queue.shift()
            if (head.capture) this.#finishCapture(head.capture, true)
          }
          break
        case 'synthetic':
          // Cannot be at the head when a server message arrives: synthetic answers are sent as soon as they are first.
          append(out, bytes)
          break
      }
      this.#drainSyntheticInto(out)
    }
    if (out.length === 1) this.#send(out[0] as Buffer)
    else if (out.length > 1) this.#send(Buffer.concat(out))
    if (fatal) {
      // PostgreSQL ends the connection after a FATAL (pg_terminate_backend, shutdown): so does the proxy.
      const server = this.#server
      this.#server = undefined
      if (server) {
        server.listener = undefined
        server.close()
      }
      return this.#close()
    }
    this.#maybeRelease()
  }

  /**
   * Counts a result message toward its statement (rows, bytes; a COPY FROM STDIN starting);
   * true when it is the CommandComplete that ends the statement, whose tag gives the row count.
   */
  #countResult(head: { rows: number; bytes: number }, type: number, bytes: Buffer): boolean {
    head.bytes += bytes.length
    if (type === Backend.DataRow) head.rows++
    else if (type === Backend.CopyInResponse) this.#clientCopy = true
    else if (type === Backend.CommandComplete) {
      this.#lastTag = readCommandTag(bytes)
      head.rows = rowsFromTag(this.#lastTag) ?? head.rows
      return true
    }
    return false
  }

  /** Keeps a result message of a miss being read, or gives up on storing it. */
  #capture(capture: Capture | undefined, type: number, bytes: Buffer): void {
    if (!capture?.ok) return
    capture.bytes += bytes.length
    const storable =
      type === Backend.RowDescription ||
      type === Backend.NoData ||
      type === Backend.DataRow ||
      type === Backend.CommandComplete
    if (storable && capture.bytes <= (this.options.cache?.results.options.maxEntryBytes ?? 0))
      capture.chunks.push(bytes)
    else capture.ok = false
  }

  /** The miss is complete: store it when it was read whole and cleanly, release sessions waiting on it either way. */
  #finishCapture(capture: Capture, oneStatement: boolean): void {
    const whole = capture.ok && oneStatement && capture.chunks.some((c) => c[0] === Backend.CommandComplete)
    const rows = capture.chunks.filter((c) => c[0] === Backend.DataRow).length
    capture.done(
      whole ? { versions: capture.versions, rows, body: Buffer.concat(capture.chunks) } : undefined,
      performance.now() - capture.started,
    )
  }

  #onError(head: Expect, sqlstate: string, now: number): void {
    if ('capture' in head && head.capture) head.capture.ok = false
    if (head.kind === 'query') {
      this.#record(head, now, sqlstate)
      head.index++
      head.started = now
      return // the ReadyForQuery that follows ends it
    }
    if (head.kind === 'function' || head.kind === 'sync') return
    if (head.kind === 'execute') this.#record(head, now, sqlstate)
    this.#dropUntilSync()
  }

  /** After an error in the extended protocol the server skips everything up to Sync: so must the expectations. */
  #dropUntilSync(): void {
    const server = this.#server
    while (this.#queue.length && this.#queue[0]?.kind !== 'sync') {
      const e = this.#queue.shift() as Expect
      if (e.kind === 'parse') {
        if (e.serverName) server?.prepared.delete(e.serverName)
        if (e.clientName) this.#statements.delete(e.clientName)
      }
    }
  }

  #drainSynthetic(): void {
    const out: Buffer[] = []
    this.#drainSyntheticInto(out)
    if (out.length) this.#send(Buffer.concat(out))
  }

  #drainSyntheticInto(out: Buffer[]): void {
    while (this.#queue[0]?.kind === 'synthetic') {
      out.push((this.#queue.shift() as { bytes: Buffer }).bytes)
    }
  }

  /** Hands a finished statement to telemetry (counts come from the message stream; rows 0 on error). */
  #record(st: StatementProgress, ended: number, sqlstate?: string): void {
    const record: StatementRecord = {
      at: Date.now() - (ended - st.started),
      sessionId: this.id,
      database: this.database,
      user: this.user,
      applicationName: this.applicationName,
      searchPath: this.#settings.get('search_path'),
      text: st.text,
      statementIndex: st.index ?? 0,
      ...(st.bind ? { bind: st.bind } : {}),
      durationMs: ended - st.started,
      poolWaitMs: this.#poolWaitMs,
      rows: sqlstate ? 0 : st.rows,
      bytesOut: st.bytes,
      sqlstate,
      ...(st.cache ? { cache: st.cache } : {}),
      ...(st.cacheReason ? { cacheReason: st.cacheReason } : {}),
    }
    this.#poolWaitMs = 0
    this.options.statements.record(record)
  }

  /** Back to the pool at the end of a transaction, unless pinned or something is still in flight. */
  #maybeRelease(): void {
    const server = this.#server
    if (!server || this.#pinned || this.#queue.length || this.#awaitingSync || this.#clientCopy) return
    if (server.txStatus !== TxStatus.Idle) return
    this.#server = undefined
    ;(this.#pool as ServerPool).release(server)
  }

  onServerClose(conn: ServerConnection): void {
    if (this.#server !== conn) return
    this.#server = undefined
    this.#abandonCaptures()
    // Whether a COMMIT in flight landed is unknown: invalidate what the transaction wrote.
    if (this.#txWrites.size && this.options.cache) void this.options.cache.results.bump([...this.#txWrites], 'proxy')
    this.#txWrites.clear()
    const inTransaction = conn.txStatus !== TxStatus.Idle || this.#pinned
    const waiting = this.#queue.filter((e) => e.kind === 'query' || e.kind === 'sync' || e.kind === 'function').length
    this.#queue = []
    this.#awaitingSync = false
    this.#clientCopy = false
    if (this.#phase !== 'ready') return
    const message = 'server closed the connection unexpectedly'
    if (inTransaction) {
      // The client's transaction or session state is gone: telling it "idle" would let it commit half a transaction.
      return this.#fatal({ severity: 'FATAL', code: '08006', message, detail: 'The transaction was lost.' })
    }
    if (waiting === 0) return
    const w: Buffer[] = [errorResponse({ severity: 'ERROR', code: '08006', message })]
    for (let i = 0; i < waiting; i++) w.push(readyForQuery(TxStatus.Idle))
    this.#send(Buffer.concat(w))
  }

  // ─── Cancel and teardown ───────────────────────────────────────────────────

  /** A CancelRequest with this session's key: cancel whatever its server connection runs now. */
  cancel(): void {
    if (this.#server && this.#queue.length) void this.#server.cancel()
  }

  /** Misses that will not complete: let sessions waiting on them go to PostgreSQL themselves. */
  #abandonCaptures(): void {
    for (const e of this.#queue) if ('capture' in e) e.capture?.done(undefined)
    this.#next.capture?.done(undefined)
    this.#next = {}
  }

  #onClientGone(): void {
    if (this.#phase === 'closed') return
    this.#phase = 'closed'
    this.#abandonCaptures()
    clearTimeout(this.#loginTimer)
    this.options.cancels.unregister(this)
    const server = this.#server
    this.#server = undefined
    if (server && this.#pool) {
      if (this.#queue.length || this.#awaitingSync || this.#clientCopy) {
        // Gone mid-query: stop the work, and never hand this connection to anyone else.
        void server.cancel()
        server.dirty = true
      }
      if (this.#pinned) server.dirty = true
      this.#pool.release(server)
    }
    // An ending socket still has a goodbye (an ErrorResponse) to flush, perhaps behind an invalidation:
    // destroy it only if it lingers.
    void (this.#gate ?? Promise.resolve()).then(() => {
      if (this.socket.writableEnded) setTimeout(() => this.socket.destroy(), 1000).unref()
      else this.socket.destroy()
    })
  }

  #protocolViolation(err: unknown): void {
    this.#fatal({ severity: 'FATAL', code: '08P01', message: `protocol violation: ${(err as Error).message}` })
  }

  #fatal(fields: ErrorFields): void {
    if (this.#phase === 'closed') return
    this.#end(errorResponse(fields))
    this.#onClientGone()
  }

  /** Ends the connection after anything still held behind an invalidation. */
  #end(goodbye?: Buffer): void {
    const end = () => {
      if (this.socket.destroyed || this.socket.writableEnded) return
      if (goodbye) this.socket.end(goodbye)
      else this.socket.end()
    }
    if (this.#gate) void this.#gate.then(end)
    else end()
  }

  #close(): void {
    this.#end()
    this.#onClientGone()
  }

  get pinned(): boolean {
    return this.#pinned
  }
}
