import { connectPostgres, type Logger, loadConfig, migrationStatus, RedisCache, redactUrl } from '@cairn/core'
import { migrationsDir } from '@cairn/sql'
import { readRunState } from '../state-file.js'

/**
 * `cairn status`: whether Cairn runs on this data dir, and what it reaches.
 * Returns the exit code: 0 when everything checked is up, 3 when Cairn is not
 * running, 1 when something it needs is down.
 */
export async function statusCommand(_logger: Logger): Promise<number> {
  const config = loadConfig()
  const lines: string[] = []
  let code = 0
  const state = readRunState(config.dataDir)
  if (state) {
    lines.push(`cairn:      running (pid ${state.pid}, since ${state.startedAt}), data dir ${config.dataDir}`)
    lines.push(`proxy:      ${redactUrl(state.proxyUrl)} (connect here)`)
    lines.push(`database:   ${state.databaseMode} ${redactUrl(state.databaseUrl)}`)
    lines.push(`cache:      ${state.cacheMode === 'redis' ? 'redis' : 'in-process LRU'}`)
    const health = await fetch(`${state.httpUrl}/healthz`).then(
      async (r) => `${r.status} ${JSON.stringify(await r.json())}`,
      (err: Error) => {
        code = 1
        return `unreachable (${err.message})`
      },
    )
    lines.push(`http:       ${state.httpUrl} health ${health}`)
  } else {
    lines.push(`cairn:      not running (data dir ${config.dataDir})`)
    code = 3
  }

  const databaseUrl = state?.databaseUrl ?? config.databaseUrl
  if (databaseUrl) {
    try {
      const client = await connectPostgres(databaseUrl)
      try {
        const m = await migrationStatus(client, migrationsDir)
        lines.push(
          `migrations: ${m.applied.length} applied, ${m.pending.length} pending${m.pending.length ? ` (${m.pending.join(', ')})` : ''}`,
        )
      } finally {
        await client.end()
      }
    } catch (err) {
      lines.push(`migrations: cannot check (${(err as Error).message})`)
      code = code || 1
    }
  }
  if (!state && config.redisUrl) {
    try {
      await (await new RedisCache({ url: config.redisUrl }).connect()).close()
      lines.push(`redis:      reachable ${redactUrl(config.redisUrl)}`)
    } catch (err) {
      lines.push(`redis:      ${(err as Error).message}`)
      code = code || 1
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  return code
}
