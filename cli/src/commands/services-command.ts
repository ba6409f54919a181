import { spawnSync } from 'node:child_process'
import { repoPath } from '../repo-path.js'

/** `cairn services up|down|status`: runs scripts/services.sh and returns its exit code. */
export function servicesCommand(action: 'up' | 'down' | 'status' | 'env'): number {
  const result = spawnSync('bash', [repoPath('scripts/services.sh'), action], { stdio: 'inherit' })
  if (result.error) throw result.error
  return result.status ?? 1
}
