/**
 * Runs Cairn's proxy on its own, for the proxy benchmark: transaction pooling,
 * SCRAM logins checked against pg_authid, telemetry on. It listens on a free
 * loopback port and prints `{"port":…,"pid":…,"telemetry":…}` as one JSON line
 * on stdout; on SIGTERM, SIGINT or the end of stdin (its parent gone) it closes
 * and prints `{"stopped":true,"records":…}`.
 *
 *   CAIRN_DATABASE_URL=postgres://cairn:cairn@127.0.0.1:54329/cairn node dist/proxy-process.js
 *
 * Settings (environment): BENCH_PROXY_POOL_SIZE (20), BENCH_PROXY_PORT (0: any free port).
 */
import { createLogger } from '@cairn/core'
import { AuthQueryStore, ProxyServer, type StatementSink } from '@cairn/proxy'
import pg from 'pg'

/** What the proxy's statement records go to: counted, as the proxy package exports no telemetry pipeline yet. */
const TELEMETRY = 'counting sink (every statement record is taken on the proxy path and counted)'

async function main(): Promise<void> {
  const databaseUrl = process.env.CAIRN_DATABASE_URL
  if (!databaseUrl) throw new Error('CAIRN_DATABASE_URL is not set')
  const upstream = new URL(databaseUrl)
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()

  let records = 0
  const statements: StatementSink = {
    record() {
      records++
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
    log: createLogger({ level: 'warn', format: 'json' }),
  })
  const { port } = await proxy.listen()

  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await proxy.close()
    await admin.end().catch(() => {})
    process.stdout.write(`${JSON.stringify({ stopped: true, records })}\n`, () => process.exit(0))
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
  process.stdin.once('end', () => void stop())
  process.stdin.resume()

  process.stdout.write(`${JSON.stringify({ port, pid: process.pid, telemetry: TELEMETRY })}\n`)
}

main().catch((err: unknown) => {
  console.error(`proxy-process: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
