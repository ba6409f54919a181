import { errors } from '@cairn/core'
import type { SourcePlugin } from './source-plugin.js'

const NAME = /^[a-z][a-z0-9-]*$/
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

/**
 * Declares a source plugin. Checks its metadata now, so a bad plugin is refused
 * when it is defined or registered, with a coded error, not at its first run.
 */
export function defineSourcePlugin<C>(plugin: Omit<SourcePlugin<C>, 'kind'>): SourcePlugin<C> {
  const candidate = { kind: 'source' as const, ...plugin }
  assertSourcePlugin(candidate)
  return Object.freeze(candidate)
}

/** Throws CAIRN_ERR_PLUGIN_INVALID naming what is wrong with a value that claims to be a source plugin. */
export function assertSourcePlugin(value: unknown): asserts value is SourcePlugin<unknown> {
  const p = value as Partial<SourcePlugin<unknown>> | null
  const label = typeof p?.meta?.name === 'string' ? `source plugin "${p.meta.name}"` : 'source plugin'
  if (p === null || typeof p !== 'object') throw errors.PLUGIN_INVALID(`${label}: not an object`)
  if (p.kind !== 'source') throw errors.PLUGIN_INVALID(`${label}: kind must be "source"`)
  if (typeof p.meta?.name !== 'string' || !NAME.test(p.meta.name))
    throw errors.PLUGIN_INVALID(`${label}: meta.name must match ${NAME}`)
  if (typeof p.meta.version !== 'string' || !SEMVER.test(p.meta.version))
    throw errors.PLUGIN_INVALID(`${label}: meta.version must be semver, got ${JSON.stringify(p.meta.version)}`)
  if (typeof p.configSchema?.safeParse !== 'function')
    throw errors.PLUGIN_INVALID(`${label}: configSchema must be a zod schema`)
  if (typeof p.create !== 'function') throw errors.PLUGIN_INVALID(`${label}: create must be a function`)
}
