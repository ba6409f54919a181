import { errors } from '@cairn/core'
import { assertSourcePlugin, type SourcePlugin } from '@cairn/plugins'
import { filesSource } from './files-source.js'
import { generatorSource } from './generator-source.js'
import { kafkaSource } from './kafka-source.js'
import { redisStreamSource } from './redis-stream-source.js'

/** The sources Cairn ships. HTTP ingest is not among them: it is pushed to, through the API. */
export const builtinSources: readonly SourcePlugin[] = Object.freeze([
  filesSource,
  generatorSource,
  redisStreamSource,
  kafkaSource,
])

export interface SourceRegistry {
  /** The plugin of that name; CAIRN_ERR_PIPELINE_UNKNOWN_SOURCE naming the known ones otherwise. */
  get(name: string): SourcePlugin
  /** Every registered plugin, built-in ones first. */
  list(): readonly SourcePlugin[]
}

/**
 * The built-in sources plus `extra` ones. Every plugin is checked now (CAIRN_ERR_PLUGIN_INVALID for
 * a malformed one or a name registered twice), so a bad plugin stops startup, not a run.
 */
export function createSourceRegistry(extra: readonly SourcePlugin[] = []): SourceRegistry {
  const byName = new Map<string, SourcePlugin>()
  for (const plugin of [...builtinSources, ...extra]) {
    assertSourcePlugin(plugin)
    const existing = byName.get(plugin.meta.name)
    if (existing !== undefined) {
      throw errors.PLUGIN_INVALID(
        `source plugin "${plugin.meta.name}" (${plugin.meta.version}) is registered twice` +
          (builtinSources.includes(existing) ? '; it is the name of a built-in source' : ''),
      )
    }
    byName.set(plugin.meta.name, plugin)
  }
  const all = Object.freeze([...byName.values()])
  return {
    get(name) {
      const plugin = byName.get(name)
      if (plugin === undefined) {
        throw errors.PIPELINE_UNKNOWN_SOURCE(`"${name}"; known sources are ${[...byName.keys()].join(', ')}`)
      }
      return plugin
    },
    list: () => all,
  }
}
