import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runChecked, runCommand } from './run-command.js'

export const PGBENCH = process.env.PGBENCH ?? '/usr/lib/postgresql/15/bin/pgbench'

/** Where pgbench connects: PostgreSQL itself or a pooler in front of it. */
export interface Endpoint {
  host: string
  port: number
  user: string
  password: string
  database: string
}

export type QueryMode = 'simple' | 'prepared'

export interface PgbenchOptions {
  endpoint: Endpoint
  mode: QueryMode
  clients: number
  threads: number
  seconds: number
  /** Fraction of transactions written to the per-transaction log, from which p95 is taken. */
  samplingRate: number
  /** Called with pgbench's pid once it runs. */
  onStart?: (pid: number) => void
}

export interface PgbenchResult {
  ok: boolean
  tps: number | undefined
  latencyAvgMs: number | undefined
  p50Ms?: number | undefined
  p95Ms: number | undefined
  p99Ms?: number | undefined
  transactions: number | undefined
  /** Per-transaction latencies sampled into the log. */
  sampled: number
  /** What went wrong, from pgbench's own messages, when `ok` is false. */
  error: string | undefined
  exitCode: number | null
}

/** The numbers in pgbench's closing summary. */
export interface PgbenchSummary {
  tps: number | undefined
  latencyAvgMs: number | undefined
  transactions: number | undefined
}

function connectionEnv(endpoint: Endpoint): NodeJS.ProcessEnv {
  // The same client settings for every target: no TLS (the proxies offer none here).
  return { ...process.env, PGPASSWORD: endpoint.password, PGSSLMODE: 'disable', PGAPPNAME: 'pgbench' }
}

function connectionArgs(endpoint: Endpoint): string[] {
  return ['-h', endpoint.host, '-p', String(endpoint.port), '-U', endpoint.user]
}

/** `pgbench -i -s <scale>`: creates and fills the pgbench tables, replacing any there. */
export async function initPgbench(endpoint: Endpoint, scale: number): Promise<void> {
  await runChecked(PGBENCH, ['-i', '-q', '-s', String(scale), ...connectionArgs(endpoint), endpoint.database], {
    env: connectionEnv(endpoint),
    timeoutMs: 15 * 60_000,
  })
}

/** The built-in select-only script (`-S`) for a fixed time; a failed run is a result, not an exception. */
export async function runPgbench(options: PgbenchOptions): Promise<PgbenchResult> {
  const { endpoint } = options
  const logDir = await mkdtemp(join(tmpdir(), 'cairn-pgbench-'))
  const args = [
    '-S',
    '-n',
    '-M',
    options.mode,
    '-c',
    String(options.clients),
    '-j',
    String(options.threads),
    '-T',
    String(options.seconds),
    '--log',
    `--log-prefix=${join(logDir, 'tx')}`,
    `--sampling-rate=${options.samplingRate}`,
    ...connectionArgs(endpoint),
    endpoint.database,
  ]
  try {
    const result = await runCommand(PGBENCH, args, {
      env: connectionEnv(endpoint),
      timeoutMs: (options.seconds + 60) * 1000,
      onSpawn: options.onStart,
    })
    const summary = parsePgbenchSummary(result.stdout)
    const latencies = await readLatencies(logDir)
    const failed = result.code !== 0 || result.timedOut || summary.tps === undefined
    return {
      ok: !failed,
      tps: failed ? undefined : summary.tps,
      latencyAvgMs: failed ? undefined : summary.latencyAvgMs,
      p50Ms: failed ? undefined : percentile(latencies, 0.5),
      p95Ms: failed ? undefined : percentile(latencies, 0.95),
      p99Ms: failed ? undefined : percentile(latencies, 0.99),
      transactions: summary.transactions,
      sampled: latencies.length,
      error: failed ? pgbenchError(result.stdout, result.stderr, options.clients, result.timedOut) : undefined,
      exitCode: result.code,
    }
  } finally {
    await rm(logDir, { recursive: true, force: true })
  }
}

export function parsePgbenchSummary(stdout: string): PgbenchSummary {
  const number = (pattern: RegExp): number | undefined => {
    const match = pattern.exec(stdout)
    return match?.[1] === undefined ? undefined : Number(match[1])
  }
  return {
    // pgbench 14+ prints one tps line; older ones print "including" and "excluding connections establishing".
    tps: number(/^tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/m),
    latencyAvgMs: number(/^latency average = ([\d.]+) ms/m),
    transactions: number(/^number of transactions actually processed: (\d+)/m),
  }
}

/**
 * Latencies in ms from pgbench's per-transaction logs (`--log`): one file per
 * thread, lines `client_id transaction_no time script_no time_epoch time_us …`
 * with `time` in microseconds, or "failed"/"skipped".
 */
export async function readLatencies(logDir: string): Promise<number[]> {
  const latencies: number[] = []
  for (const file of await readdir(logDir)) {
    latencies.push(...parseTransactionLog(await readFile(join(logDir, file), 'utf8')))
  }
  return latencies
}

export function parseTransactionLog(text: string): number[] {
  const latencies: number[] = []
  for (const line of text.split('\n')) {
    const micros = Number(line.split(' ')[2])
    if (line !== '' && Number.isFinite(micros)) latencies.push(micros / 1000)
  }
  return latencies
}

/** Nearest-rank percentile; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

/**
 * What went wrong, from pgbench's messages: each distinct server error once
 * with how often it came, and how many clients aborted.
 */
export function pgbenchError(stdout: string, stderr: string, clients: number, timedOut: boolean): string {
  if (timedOut) return 'pgbench did not finish in time and was killed'
  const counts = new Map<string, number>()
  let aborted = 0
  for (const raw of `${stderr}\n${stdout}`.split('\n')) {
    const line = raw.trim()
    if (!/error|fatal|abort/i.test(line)) continue
    if (/client \d+ script \d+ aborted/.test(line)) aborted++
    // Two threads may write at once, so a line can start mid-message: the server's part is what counts.
    const server = /\b(ERROR|FATAL|PANIC):\s+(.*)$/.exec(line)
    const message = server ? `${server[1]}: ${server[2]}` : line.replace(/^(pgbench:\s*)+(error:\s*)?/, '')
    counts.set(message, (counts.get(message) ?? 0) + 1)
  }
  const parts = [...counts].map(([message, n]) => (n > 1 ? `${message} (×${n})` : message))
  if (aborted > 0) parts.unshift(`${aborted} of ${clients} clients aborted`)
  if (parts.length === 0) return `pgbench failed: ${stderr.trim().split('\n').slice(-3).join(' ') || 'no output'}`
  return parts.join('; ')
}
