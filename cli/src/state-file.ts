import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** What a running `cairn start` leaves in its data dir, so `status` and `migrate` can find it. */
export interface RunState {
  pid: number
  startedAt: string
  databaseMode: 'embedded' | 'external'
  cacheMode: 'memory' | 'redis'
  databaseUrl: string
  /** Where clients connect: the proxy, with the same credentials as the database URL. */
  proxyUrl: string
  httpUrl: string
}

const FILE = 'cairn.run.json'

export function writeRunState(dataDir: string, state: RunState): void {
  writeFileSync(join(dataDir, FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
}

export function removeRunState(dataDir: string): void {
  rmSync(join(dataDir, FILE), { force: true })
}

/** The state of a Cairn that is still running on this data dir, or undefined. */
export function readRunState(dataDir: string): RunState | undefined {
  const file = join(dataDir, FILE)
  if (!existsSync(file)) return undefined
  const state = JSON.parse(readFileSync(file, 'utf8')) as RunState
  try {
    process.kill(state.pid, 0)
    return state
  } catch {
    return undefined // stale: the process that wrote it is gone
  }
}
