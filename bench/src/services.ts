import { fileURLToPath } from 'node:url'
import { runChecked } from './run-command.js'

const SCRIPT = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url))

/** `scripts/services.sh up`: PostgreSQL 15 and Redis, started when not running; returns CAIRN_DATABASE_URL. */
export async function servicesUp(): Promise<string> {
  return (await servicesUpWithRedis()).databaseUrl
}

/** `scripts/services.sh up`; returns both CAIRN_DATABASE_URL and CAIRN_REDIS_URL. */
export async function servicesUpWithRedis(): Promise<{ databaseUrl: string; redisUrl: string }> {
  const out = await runChecked('bash', [SCRIPT, 'up'], { timeoutMs: 10 * 60_000 })
  const databaseUrl = /^export CAIRN_DATABASE_URL=(\S+)$/m.exec(out)?.[1]
  if (!databaseUrl) throw new Error(`scripts/services.sh up printed no CAIRN_DATABASE_URL:\n${out}`)
  const redisUrl = /^export CAIRN_REDIS_URL=(\S+)$/m.exec(out)?.[1] ?? ''
  return { databaseUrl, redisUrl }
}
