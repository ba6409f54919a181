import type { Finding, QueryEvent } from '@cairn/core'
import { createLogger, EventBus } from '@cairn/core'
import type { AgentContext } from '@cairn/plugins'
import type pg from 'pg'
import { readOnlyDb } from '../../src/host/read-only-db.js'
import { sourceModule } from '../../src/host/worker-module.js'

export interface TestAgentContext extends AgentContext {
  readonly bus: EventBus
  /** Everything this context published, in order. */
  readonly published: Finding[]
  /** Publishes a query event to `events$`. */
  emit(event: QueryEvent): void
  abort(): void
}

/**
 * An AgentContext for testing one agent without the host: a real read-only
 * database, a real bus, and worker tasks run in-process from their sources.
 */
export function createTestAgentContext(pool: pg.Pool, name = 'test-agent'): TestAgentContext {
  const bus = new EventBus()
  const controller = new AbortController()
  const published: Finding[] = []
  return {
    bus,
    published,
    log: createLogger({ level: 'silent', format: 'json' }).child({ agent: name }),
    db: readOnlyDb(pool),
    events$: bus.events$,
    findings$: bus.findings$,
    publish(finding) {
      const f = bus.publishFinding({ ...finding, source: name })
      published.push(f)
      return f
    },
    workers: {
      async run<O>(task: { module: string | URL; name: string; input?: unknown }): Promise<O> {
        const mod = (await import(sourceModule(String(task.module)))) as Record<string, (i: unknown) => unknown>
        const fn = mod[task.name]
        if (typeof fn !== 'function') throw new Error(`${task.module} has no export ${task.name}`)
        return (await fn(structuredClone(task.input))) as O
      },
    },
    signal: controller.signal,
    emit: (event) => void bus.publish('query', event),
    abort: () => controller.abort(),
  }
}
