import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
    redisUrl: string
  }
}

/**
 * Starts (or finds running) the project's PostgreSQL 15 and Redis through
 * scripts/services.sh, which installs the Debian packages when they are missing.
 * A service that cannot start fails the whole run with the script's reason.
 */
export default function setup(project: TestProject): void {
  const script = fileURLToPath(new URL('../scripts/services.sh', import.meta.url))
  const result = spawnSync('bash', [script, 'up'], { encoding: 'utf8', timeout: 600_000 })
  if (result.status !== 0) {
    throw new Error(
      `The test services did not start (scripts/services.sh up exited ${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`,
    )
  }
  const env = Object.fromEntries(
    [...result.stdout.matchAll(/^export (CAIRN_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  )
  const databaseUrl = env.CAIRN_DATABASE_URL
  const redisUrl = env.CAIRN_REDIS_URL
  if (!databaseUrl || !redisUrl) throw new Error(`scripts/services.sh up printed no URLs:\n${result.stdout}`)
  project.provide('databaseUrl', databaseUrl)
  project.provide('redisUrl', redisUrl)
}
