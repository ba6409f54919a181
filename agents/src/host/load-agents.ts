import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { errors } from '@cairn/core'
import { type Agent, assertAgent } from '@cairn/plugins'

/**
 * Loads third-party agents from module paths (`./my-agent.js`, `/opt/agents/x`)
 * or npm package names (`cairn-agent-foo`), resolved from `cwd`. A module's
 * default export is an agent, or a function returning one or several. Anything
 * else is refused now, with CAIRN_ERR_PLUGIN_INVALID naming the module.
 */
export async function loadAgentModules(specs: readonly string[], cwd = process.cwd()): Promise<Agent[]> {
  const agents: Agent[] = []
  for (const spec of specs) {
    let mod: { default?: unknown }
    try {
      mod = (await import(resolveModule(spec, cwd))) as { default?: unknown }
    } catch (cause) {
      throw errors.PLUGIN_INVALID(`cannot load agent module "${spec}": ${(cause as Error).message}`, { cause })
    }
    const exported = typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default
    const list = Array.isArray(exported) ? exported : [exported]
    for (const candidate of list) {
      try {
        assertAgent(candidate)
      } catch (err) {
        const detail = (err as Error).message.replace(`${errors.PLUGIN_INVALID.message}: `, '')
        throw errors.PLUGIN_INVALID(`agent module "${spec}": ${detail}`)
      }
      agents.push(candidate)
    }
  }
  return agents
}

function resolveModule(spec: string, cwd: string): string {
  if (spec.startsWith('.') || isAbsolute(spec)) {
    const path = isAbsolute(spec) ? spec : resolve(cwd, spec)
    // A directory is a package: resolve its entry the way Node does.
    return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(path)).href
  }
  return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(spec)).href
}
