/**
 * Proxy throughput benchmark: pgbench's select-only script against PostgreSQL
 * directly, through a Node TCP pipe that only copies bytes (the baseline for
 * Node's own I/O), through Cairn's proxy and through PgBouncer, both poolers in
 * transaction mode, on the same database in one run. Writes
 * results/proxy-<stamp>.{json,md} and prints the table.
 *
 *   npm run bench:proxy -w @cairn/bench
 *
 * Settings (environment): BENCH_SECONDS (20), BENCH_ROUNDS (3), BENCH_WARMUP_SECONDS (3),
 * BENCH_CLIENTS (16), BENCH_THREADS (2), BENCH_SCALE (10), BENCH_SAMPLING_RATE (0.1),
 * BENCH_DATABASE (cairn_bench), BENCH_PIPE_WORKERS (1: the Node pipe's node:cluster workers).
 */
import { fileURLToPath } from 'node:url'
import { numericSetting, progress, settingsInEffect } from './bench-settings.js'
import { CpuMeter } from './cpu-usage.js'
import { databaseUrlFor, ensureDatabase, serverVersion, storedSecret, withClient } from './database.js'
import { describeMachine } from './machine.js'
import { type NodePipe, startNodePipe } from './node-pipe.js'
import { type Endpoint, initPgbench, type PgbenchResult, type QueryMode, runPgbench } from './pgbench.js'
import { ensurePgbouncer, type PgbouncerInstance, pgbouncerVersion, startPgbouncer } from './pgbouncer.js'
import { type ProxyChild, startProxyChild, type TelemetryCounts } from './proxy-child.js'
import {
  type BenchReport,
  MODES,
  markdownTable,
  type RunRecord,
  summarize,
  TARGETS,
  type Target,
  writeReport,
} from './report.js'
import { servicesUp } from './services.js'

const POOL_SIZE = 20
const SETTINGS_ENV = [
  'BENCH_SECONDS',
  'BENCH_ROUNDS',
  'BENCH_WARMUP_SECONDS',
  'BENCH_CLIENTS',
  'BENCH_THREADS',
  'BENCH_SCALE',
  'BENCH_SAMPLING_RATE',
  'BENCH_DATABASE',
  'BENCH_PIPE_WORKERS',
] as const

const setting = (name: (typeof SETTINGS_ENV)[number], fallback: number) => numericSetting(name, fallback)
const log = progress

function describeResult(result: PgbenchResult, poolerCpuPct: number | undefined): string {
  if (!result.ok) return `FAILED: ${result.error}`
  const cpu = poolerCpuPct === undefined ? '' : `, pooler CPU ${poolerCpuPct.toFixed(0)}%`
  return `${result.tps?.toFixed(0)} tps, avg ${result.latencyAvgMs?.toFixed(3)} ms, p95 ${result.p95Ms?.toFixed(3)} ms${cpu}`
}

async function main(): Promise<void> {
  const seconds = setting('BENCH_SECONDS', 20)
  const rounds = Math.max(1, Math.floor(setting('BENCH_ROUNDS', 3)))
  const warmupSeconds = setting('BENCH_WARMUP_SECONDS', 3)
  const clients = setting('BENCH_CLIENTS', 16)
  const threads = setting('BENCH_THREADS', 2)
  const scale = setting('BENCH_SCALE', 10)
  const samplingRate = setting('BENCH_SAMPLING_RATE', 0.1)
  const database = process.env.BENCH_DATABASE || 'cairn_bench'
  const pipeWorkers = Math.max(1, Math.floor(setting('BENCH_PIPE_WORKERS', 1)))
  const command = [...settingsInEffect(SETTINGS_ENV), 'npm run bench:proxy -w @cairn/bench'].join(' ')

  log('starting PostgreSQL and Redis (scripts/services.sh up)')
  const adminUrl = await servicesUp()
  const url = new URL(adminUrl)
  const user = decodeURIComponent(url.username)
  const password = decodeURIComponent(url.password)
  const upstream = { host: url.hostname, port: Number(url.port || 5432) }
  const { secret, postgres } = await withClient(adminUrl, async (client) => {
    if (await ensureDatabase(client, database)) log(`created database ${database}`)
    return { secret: await storedSecret(client, user), postgres: await serverVersion(client) }
  })
  const direct: Endpoint = { ...upstream, user, password, database }
  log(`pgbench -i -s ${scale} into ${database}`)
  await initPgbench(direct, scale)

  const pgbouncerBinary = await ensurePgbouncer()
  const cleanups: (() => Promise<unknown>)[] = []
  const cleanup = async () => {
    for (const stop of cleanups.splice(0).reverse()) await stop().catch((err) => log(`cleanup: ${err}`))
  }
  const onSignal = () => {
    log('interrupted; stopping the poolers')
    void cleanup().then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const runs: RunRecord[] = []
  let pipe: NodePipe | undefined
  let proxy: ProxyChild | undefined
  let pgbouncer: PgbouncerInstance | undefined
  let proxiedTransactions = 0
  let counts: TelemetryCounts = { records: undefined, events: undefined }
  try {
    pipe = await startNodePipe(upstream, pipeWorkers)
    cleanups.push(pipe.stop)
    log(
      `Node TCP pipe on 127.0.0.1:${pipe.port} to ${upstream.host}:${upstream.port} ` +
        `(pid ${pipe.pids.join(', ')}; ${pipeWorkers > 1 ? `${pipeWorkers} cluster workers` : 'one process'})`,
    )
    proxy = await startProxyChild(databaseUrlFor(adminUrl, database))
    const proxyChild = proxy
    cleanups.push(async () => {
      counts = await proxyChild.stop()
    })
    log(`Cairn proxy on 127.0.0.1:${proxy.port} (pid ${proxy.pid}); telemetry: ${proxy.telemetry}`)
    pgbouncer = await startPgbouncer(pgbouncerBinary, {
      upstream,
      database,
      user,
      secret,
      poolSize: POOL_SIZE,
      maxClientConn: 100,
    })
    cleanups.push(() => (pgbouncer as PgbouncerInstance).stop())
    log(`PgBouncer ${pgbouncer.version} on 127.0.0.1:${pgbouncer.port} (pid ${pgbouncer.pid})`)

    const endpoints: Record<Target, Endpoint> = {
      direct,
      nodepipe: { ...direct, host: '127.0.0.1', port: pipe.port },
      cairn: { ...direct, host: '127.0.0.1', port: proxy.port },
      pgbouncer: { ...direct, host: pgbouncer.host, port: pgbouncer.port },
    }
    const poolerPids: Record<Target, readonly number[]> = {
      direct: [],
      nodepipe: pipe.pids,
      cairn: [proxy.pid],
      pgbouncer: [pgbouncer.pid],
    }
    const bench = (target: Target, mode: QueryMode, runSeconds: number) =>
      runPgbench({ endpoint: endpoints[target], mode, clients, threads, seconds: runSeconds, samplingRate })

    if (warmupSeconds > 0) {
      for (const target of TARGETS) {
        const result = await bench(target, 'simple', warmupSeconds)
        if (target === 'cairn') proxiedTransactions += result.transactions ?? 0
        log(`warm-up ${target}: ${describeResult(result, undefined)}`)
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const mode of MODES) {
        for (const target of TARGETS) {
          const meter = new CpuMeter(poolerPids[target])
          const result = await bench(target, mode, seconds)
          const { processPct, hostPct } = meter.stop()
          if (target === 'cairn') proxiedTransactions += result.transactions ?? 0
          runs.push({ round, target, mode, result, poolerCpuPct: processPct, hostCpuPct: hostPct })
          log(`round ${round}/${rounds} ${mode} ${target}: ${describeResult(result, processPct)}`)
        }
      }
    }
  } finally {
    await cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const now = new Date()
  const report: BenchReport = {
    date: now.toISOString(),
    command,
    settings: {
      seconds,
      rounds,
      warmupSeconds,
      clients,
      threads,
      scale,
      samplingRate,
      poolSize: POOL_SIZE,
      pipeWorkers,
      database,
    },
    machine: {
      ...describeMachine(),
      postgres,
      pgbouncer: pgbouncer?.version ?? (await pgbouncerVersion(pgbouncerBinary)),
    },
    telemetry: { sink: proxy?.telemetry ?? 'unknown', ...counts, proxiedTransactions },
    summary: summarize(runs),
    runs,
  }
  const stamp = now.toISOString().slice(0, 16).replace(/:/g, '').replace('T', '-')
  const resultsDir = fileURLToPath(new URL('../results/', import.meta.url))
  const files = await writeReport(resultsDir, stamp, report)

  console.log(markdownTable(report.summary, pipeWorkers))
  console.log(
    `\nTelemetry: ${report.telemetry.sink}; ${counts.records ?? 'unknown'} statement records, ` +
      `${counts.events ?? 'unknown'} query events, for ${proxiedTransactions} pgbench transactions through the proxy.`,
  )
  for (const row of report.summary.filter((r) => r.errors.length > 0)) {
    console.log(`Failed: ${row.target} ${row.mode}: ${row.errors.join(' / ')}`)
  }
  console.log(`\nWrote ${files.join(' and ')}`)
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
})
