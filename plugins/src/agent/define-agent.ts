import { errors } from '@cairn/core'
import type { Agent, AgentDefinition } from './agent.js'

const NAME = /^[a-z][a-z0-9-]*$/
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/
const DEPENDENCY = /^([a-z][a-z0-9-]*)(?:@(.+))?$/

/**
 * Declares an agent. Checks its metadata and hooks now, so a bad agent is
 * refused when it is defined or registered, with a coded error, not at first use.
 * Built-ins are written as factories around it: `useWorkloadClusterer(options)`.
 */
export function defineAgent(definition: AgentDefinition): Agent {
  const candidate = { kind: 'agent' as const, ...definition }
  assertAgent(candidate)
  return Object.freeze(candidate)
}

/** Splits `name@range` into its parts; the range is absent when any version will do. */
export function parseDependency(spec: string): { name: string; range?: string } {
  const m = DEPENDENCY.exec(spec)
  if (!m) throw errors.PLUGIN_INVALID(`dependency ${JSON.stringify(spec)} must be "name" or "name@range"`)
  return m[2] ? { name: m[1] as string, range: m[2] } : { name: m[1] as string }
}

/** Throws CAIRN_ERR_PLUGIN_INVALID naming what is wrong with a value that claims to be an agent. */
export function assertAgent(value: unknown): asserts value is Agent {
  const a = value as Partial<Agent> | null
  const label = typeof a?.meta?.name === 'string' ? `agent "${a.meta.name}"` : 'agent'
  if (a === null || typeof a !== 'object') throw errors.PLUGIN_INVALID(`${label}: not an object`)
  if (a.kind !== 'agent') throw errors.PLUGIN_INVALID(`${label}: kind must be "agent" (use defineAgent)`)
  if (typeof a.meta?.name !== 'string' || !NAME.test(a.meta.name))
    throw errors.PLUGIN_INVALID(`${label}: meta.name must match ${NAME}`)
  if (typeof a.meta.version !== 'string' || !SEMVER.test(a.meta.version))
    throw errors.PLUGIN_INVALID(`${label}: meta.version must be semver, got ${JSON.stringify(a.meta.version)}`)
  if (a.meta.dependsOn !== undefined) {
    if (!Array.isArray(a.meta.dependsOn)) throw errors.PLUGIN_INVALID(`${label}: meta.dependsOn must be an array`)
    for (const d of a.meta.dependsOn) {
      if (typeof d !== 'string') throw errors.PLUGIN_INVALID(`${label}: meta.dependsOn holds a non-string`)
      if (parseDependency(d).name === a.meta.name) throw errors.PLUGIN_INVALID(`${label}: depends on itself`)
    }
  }
  for (const hook of ['start', 'onResult'] as const) {
    if (a[hook] !== undefined && typeof a[hook] !== 'function')
      throw errors.PLUGIN_INVALID(`${label}: ${hook} must be a function`)
  }
  if (!a.start && !a.onResult) throw errors.PLUGIN_INVALID(`${label}: has neither start nor onResult`)
}
