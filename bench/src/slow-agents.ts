import type { Agent } from '@cairn/plugins'
import { defineAgent } from '@cairn/plugins'

/** Burns CPU for `ms` milliseconds: the heavy work a slow agent sends to the worker pool. */
export function crunch(input: { ms: number }): number {
  const end = performance.now() + input.ms
  let n = 0
  while (performance.now() < end) n++
  return n
}

const task = new URL('./slow-agents.js', import.meta.url).href

export type SlowAgentKind = 'sleepy' | 'cruncher'

/**
 * Deliberately slow agents, for measuring what an agent costs the proxy:
 * `sleepy` awaits 20 ms per statement (it falls behind and its oldest events are
 * dropped), `cruncher` sends 50 ms of CPU work to the worker pool per 100 statements.
 */
export function slowAgents(kinds: readonly SlowAgentKind[] = ['sleepy', 'cruncher']): Agent[] {
  let batch = 0
  const all = {
    sleepy: defineAgent({
      meta: { name: 'bench-sleepy', version: '1.0.0' },
      onResult: () => new Promise<void>((resolve) => setTimeout(resolve, 20)),
    }),
    cruncher: defineAgent({
      meta: { name: 'bench-cruncher', version: '1.0.0' },
      async onResult(_event, ctx) {
        if (++batch % 100 === 0) await ctx.workers.run({ module: task, name: 'crunch', input: { ms: 50 } })
      },
    }),
  }
  return kinds.map((k) => all[k])
}
