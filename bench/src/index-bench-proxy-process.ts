/**
 * Runs Cairn's proxy service on its own for the index-advisor benchmark, as
 * `cairn start` runs it (startProxyService with the configuration from
 * loadConfig and a real EventBus): telemetry persisted to
 * cairn_meta.query_events, the result cache off (CAIRN_CACHE=off).
 *
 * It prints `{"port":…,"pid":…}` as one JSON line on stdout once it listens. On
 * SIGTERM, SIGINT or the end of stdin (its parent gone) it stops the service,
 * which writes the events still buffered, and prints `{"stopped":true}`.
 *
 * Settings (environment): CAIRN_DATABASE_URL, CAIRN_PROXY_PORT (a free port the bench picked), any other CAIRN_*
 * setting `cairn start` reads; BENCH_PROXY_LOG_LEVEL (warn). Its log goes to stderr.
 */
import { createLogger, EventBus, loadConfig, logLevels } from '@cairn/core'
import { startProxyService } from '@cairn/proxy'

function logLevel(): string {
  const level = process.env.BENCH_PROXY_LOG_LEVEL || 'warn'
  if (!(logLevels as readonly string[]).includes(level))
    throw new Error(`BENCH_PROXY_LOG_LEVEL: unknown level ${level}`)
  return level
}

async function main(): Promise<void> {
  const config = loadConfig({ env: { ...process.env, CAIRN_CACHE: 'off' } })
  if (!config.databaseUrl) throw new Error('CAIRN_DATABASE_URL is not set')
  // stdout carries the JSON lines the bench reads.
  const log = createLogger({ level: logLevel(), format: 'json', destination: process.stderr })
  const bus = new EventBus()
  const service = await startProxyService(config, config.databaseUrl, bus, log)

  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await service.stop()
    process.stdout.write(`${JSON.stringify({ stopped: true })}\n`, () => process.exit(0))
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
  process.stdin.once('end', () => void stop())
  process.stdin.resume()
  process.stdout.write(`${JSON.stringify({ port: service.address.port, pid: process.pid })}\n`)
}

main().catch((err: unknown) => {
  console.error(`index-bench-proxy-process: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
