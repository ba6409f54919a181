import { errors, type Logger, loadConfig, redactUrl } from '@cairn/core'
import { runAnalyticWorkload } from '@cairn/pipelines'
import { readRunState } from '../state-file.js'
import { textTable } from './text-table.js'

export interface WorkloadCommandOptions {
  readonly minutes: number
  readonly clients: number
  readonly rate?: number
  readonly seed: number
}

/**
 * `cairn workload`: the demo analytic workload through the running Cairn's proxy
 * for a while, so its telemetry reaches the agents; prints what ran.
 */
export async function workloadCommand(logger: Logger, options: WorkloadCommandOptions): Promise<number> {
  const config = loadConfig()
  const state = readRunState(config.dataDir)
  if (!state) throw errors.CONFIG_INVALID(`Cairn is not running on ${config.dataDir}: start it with \`cairn start\``)
  logger.info(
    { proxy: redactUrl(state.proxyUrl), minutes: options.minutes, clients: options.clients, rate: options.rate },
    'running the demo analytic workload through the proxy',
  )
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  let done = 0
  const progress = setInterval(() => logger.info({ statements: done }, 'workload running'), 30_000).unref()
  try {
    const result = await runAnalyticWorkload({
      url: state.proxyUrl,
      clients: options.clients,
      durationMs: options.minutes * 60_000,
      seed: options.seed,
      signal: controller.signal,
      applicationName: 'cairn workload',
      onStatement: () => void done++,
      ...(options.rate ? { ratePerSecond: options.rate } : {}),
    })
    process.stdout.write(
      `${textTable(
        ['template', 'calls', 'errors', 'mean ms'],
        result.byTemplate.map((t) => [
          t.name,
          t.calls,
          t.errors,
          t.calls ? Number((t.totalMs / t.calls).toFixed(2)) : 0,
        ]),
      )}\n\n${result.statements} statements in ${(result.wallMs / 1000).toFixed(0)} s, ${result.errors} failed\n`,
    )
    for (const t of result.byTemplate.filter((x) => x.lastError)) process.stdout.write(`${t.name}: ${t.lastError}\n`)
    return result.errors > 0 ? 1 : 0
  } finally {
    clearInterval(progress)
  }
}
