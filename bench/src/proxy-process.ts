/**
 * Runs Cairn's proxy on its own, for the proxy benchmark: transaction pooling,
 * SCRAM logins checked against pg_authid, telemetry on (the proxy's
 * TelemetryPipeline: every statement analysed and published as a QueryEvent on
 * an in-process bus, as `cairn start` does, less persisting the events). It
 * listens on a free loopback port and prints `{"port":…,"pid":…,"telemetry":…}`
 * as one JSON line on stdout; on SIGTERM, SIGINT or the end of stdin (its
 * parent gone) it closes and prints `{"stopped":true,"records":…,"events":…}`.
 *
 *   CAIRN_DATABASE_URL=postgres://cairn:cairn@127.0.0.1:54329/cairn node dist/proxy-process.js
 *
 * Settings (environment): BENCH_PROXY_POOL_SIZE (20), BENCH_PROXY_PORT (0: any free port),
 * BENCH_PROXY_AGENTS (comma-separated `sleepy`, `cruncher`: also host those deliberately slow
 * agents of slow-agents.ts on the same bus and event loop, as `cairn start` hosts its agents).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { AgentHost } from '@cairn/agents'
import { createLogger, EventBus } from '@cairn/core'
import {
  AuthQueryStore,
  loadCatalogSnapshot,
  loadSqlParser,
  ProxyServer,
  RelationResolver,
  type StatementSink,
  TelemetryPipeline,
} from '@cairn/proxy'
import pg from 'pg'
import { type SlowAgentKind, slowAgents } from './slow-agents.js'

const TELEMETRY =
  "the proxy's TelemetryPipeline (each statement normalised, parsed once per shape, published as a QueryEvent on an in-process bus; events not persisted)"

async function main(): Promise<void> {
  const databaseUrl = process.env.CAIRN_DATABASE_URL
  if (!databaseUrl) throw new Error('CAIRN_DATABASE_URL is not set')
  const upstream = new URL(databaseUrl)
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()

  const log = createLogger({ level: 'warn', format: 'json' })
  await loadSqlParser()
  const resolver = new RelationResolver()
  await loadCatalogSnapshot(admin, resolver)
  let records = 0
  let events = 0
  const bus = new EventBus()
  const agentPool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  const kinds = (process.env.BENCH_PROXY_AGENTS ?? '').split(',').filter(Boolean) as SlowAgentKind[]
  const host =
    kinds.length > 0
      ? new AgentHost({ bus, log, pool: agentPool, statusIntervalMs: 0 }).register(...slowAgents(kinds))
      : undefined
  await host?.start()
  const pipeline = new TelemetryPipeline({
    bus,
    resolver,
    log,
    onEvent() {
      events++
    },
  })
  const statements: StatementSink = {
    record(r) {
      records++
      pipeline.record(r)
    },
  }
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: Number(process.env.BENCH_PROXY_PORT ?? 0),
    upstream: { host: upstream.hostname, port: Number(upstream.port || 5432) },
    auth: 'scram-sha-256',
    credentials: new AuthQueryStore(async () => admin),
    poolMode: 'transaction',
    poolSize: Number(process.env.BENCH_PROXY_POOL_SIZE ?? 20),
    queueTimeoutMs: 10_000,
    serverIdleTimeoutMs: 60_000,
    maxClients: 1000,
    statements,
    log,
  })
  const { port } = await proxy.listen()

  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await proxy.close()
    // Records still queued for analysis are counted as events once the pipeline has drained them.
    for (let i = 0; i < 100 && pipeline.queued > 0; i++) await sleep(50)
    const agents = host?.status().map((a) => ({ name: a.name, seen: a.eventsSeen, dropped: a.eventsDropped }))
    await host?.stop()
    await agentPool.end().catch(() => {})
    await admin.end().catch(() => {})
    process.stdout.write(`${JSON.stringify({ stopped: true, records, events, agents })}\n`, () => process.exit(0))
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
  process.stdin.once('end', () => void stop())
  process.stdin.resume()

  process.stdout.write(
    `${JSON.stringify({ port, pid: process.pid, telemetry: host ? `${TELEMETRY}; slow agents attached` : TELEMETRY })}\n`,
  )
}

main().catch((err: unknown) => {
  console.error(`proxy-process: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
