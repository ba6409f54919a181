import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * The URL of a sibling module as worker threads must load it: its compiled
 * `.js` in `dist/`. Workers run plain Node, so a module resolved from the
 * TypeScript sources (as under the test runner) is mapped to its build.
 * `workerModule(import.meta.url, './train-latency-model.js')`.
 */
export function workerModule(from: string, relative: string): string {
  const url = new URL(relative.replace(/\.ts$/, '.js'), from)
  const path = fileURLToPath(url)
  const built = path.replace(/([/\\])src([/\\])/, '$1dist$2')
  return pathToFileURL(built).href
}

/** The TypeScript source of a built module when it exists beside `dist/` (for running tasks in-process in tests). */
export function sourceModule(module: string): string {
  const path = fileURLToPath(module)
  const source = path.replace(/([/\\])dist([/\\])/, '$1src$2').replace(/\.js$/, '.ts')
  return existsSync(source) ? pathToFileURL(source).href : module
}
