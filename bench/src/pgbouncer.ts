import { existsSync } from 'node:fs'
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './free-port.js'
import { isRoot, runChecked, runCommand } from './run-command.js'

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']

export interface PgbouncerSettings {
  upstream: { host: string; port: number }
  database: string
  user: string
  /** The user's secret as in pg_authid.rolpassword (`SCRAM-SHA-256$…`), for the auth_file. */
  secret: string
  poolSize: number
  maxClientConn: number
}

export interface PgbouncerInstance {
  host: string
  port: number
  pid: number
  version: string
  logFile: string
  stop(): Promise<void>
}

function findBinary(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path))
}

/** The pgbouncer binary, installed from Debian's packages when missing and running as root. */
export async function ensurePgbouncer(): Promise<string> {
  const found = findBinary()
  if (found) return found
  if (!isRoot()) throw new Error('pgbouncer is not installed; install it with: sudo apt-get install -y pgbouncer')
  console.error('bench: installing pgbouncer (apt-get install -y pgbouncer)')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  // Debian starts a packaged service on install unless policy-rc.d says no; this bench runs its own instance.
  const policy = '/usr/sbin/policy-rc.d'
  const createdPolicy = !existsSync(policy)
  if (createdPolicy) await writeFile(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
  try {
    await runChecked('apt-get', ['update', '-qq'], { env })
    await runChecked('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'pgbouncer'], { env })
  } finally {
    if (createdPolicy) await rm(policy, { force: true })
  }
  const installed = findBinary()
  if (!installed) throw new Error('apt-get installed pgbouncer, but no pgbouncer binary was found')
  return installed
}

export async function pgbouncerVersion(binary: string): Promise<string> {
  const out = await runChecked(binary, ['--version'])
  return /PgBouncer\s+(\S+)/i.exec(out)?.[1] ?? out.split('\n')[0]?.trim() ?? 'unknown'
}

function iniFile(dir: string, port: number, s: PgbouncerSettings): string {
  return `[databases]
${s.database} = host=${s.upstream.host} port=${s.upstream.port} dbname=${s.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
default_pool_size = ${s.poolSize}
max_client_conn = ${s.maxClientConn}
ignore_startup_parameters = extra_float_digits
logfile = ${join(dir, 'pgbouncer.log')}
pidfile = ${join(dir, 'pgbouncer.pid')}
log_connections = 0
log_disconnections = 0
`
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function tail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-5).join(' / ')
  } catch {
    return '(no log)'
  }
}

/**
 * Starts a PgBouncer of its own (ini, auth_file, log and pidfile in a temp dir)
 * on a free loopback port. PgBouncer refuses to run as root, so as root it runs
 * as the `postgres` user; `stop()` ends that one process and removes the dir.
 */
export async function startPgbouncer(binary: string, settings: PgbouncerSettings): Promise<PgbouncerInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-pgbouncer-'))
  const port = await freePort()
  const ini = join(dir, 'pgbouncer.ini')
  const logFile = join(dir, 'pgbouncer.log')
  const pidFile = join(dir, 'pgbouncer.pid')
  await writeFile(ini, iniFile(dir, port, settings), { mode: 0o600 })
  await writeFile(join(dir, 'userlist.txt'), `"${settings.user}" "${settings.secret}"\n`, { mode: 0o600 })
  const asRoot = isRoot()
  if (asRoot) {
    const uid = Number((await runChecked('id', ['-u', 'postgres'])).trim())
    const gid = Number((await runChecked('id', ['-g', 'postgres'])).trim())
    for (const file of [dir, ini, join(dir, 'userlist.txt')]) await chown(file, uid, gid)
    await chmod(dir, 0o700)
  }
  const [command, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', binary, '-d', ini]] : [binary, ['-d', ini]]
  const started = await runCommand(command, args as string[], { timeoutMs: 15_000 })
  if (started.code !== 0) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`pgbouncer did not start: ${`${started.stderr}${started.stdout}`.trim()}`)
  }
  let pid = 0
  for (let i = 0; i < 100; i++) {
    if (!pid && existsSync(pidFile)) pid = Number((await readFile(pidFile, 'utf8')).trim()) || 0
    if (pid && (await canConnect('127.0.0.1', port))) break
    await sleep(100)
  }
  if (!pid || !(await canConnect('127.0.0.1', port))) {
    const log = await tail(logFile)
    if (pid && alive(pid)) process.kill(pid, 'SIGTERM')
    await rm(dir, { recursive: true, force: true })
    throw new Error(`pgbouncer did not come up on 127.0.0.1:${port}: ${log}`)
  }
  const version = await pgbouncerVersion(binary)
  return {
    host: '127.0.0.1',
    port,
    pid,
    version,
    logFile,
    async stop() {
      if (alive(pid)) process.kill(pid, 'SIGTERM')
      for (let i = 0; i < 50 && alive(pid); i++) await sleep(100)
      if (alive(pid)) process.kill(pid, 'SIGKILL')
      await rm(dir, { recursive: true, force: true })
    },
  }
}
