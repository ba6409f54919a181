import { fileURLToPath } from 'node:url'

/** A path inside the Cairn checkout (this file is in cli/src or cli/dist, two levels down). */
export function repoPath(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url))
}
