import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import type { AgentWorkers } from '@cairn/plugins'
import { Piscina } from 'piscina'
import { workerModule } from './worker-module.js'

export interface WorkerPoolOptions {
  /** Default: one thread per core beyond the first, at least one (the first core is the proxy's). */
  maxThreads?: number
  /** Tasks waiting beyond this are refused rather than queued without bound. Default 1,000. */
  maxQueue?: number
  /** Old-generation heap limit per worker, MiB. Default 512. */
  maxOldGenerationSizeMb?: number
}

/** The host's worker threads: every agent's heavy work runs here, never on the proxy's event loop. */
export class WorkerPool implements AgentWorkers {
  readonly #piscina: Piscina

  constructor(options: WorkerPoolOptions = {}) {
    const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism() - 1)
    this.#piscina = new Piscina({
      filename: workerModule(import.meta.url, './worker-entry.js'),
      minThreads: 0,
      maxThreads,
      maxQueue: options.maxQueue ?? 1_000,
      idleTimeout: 30_000,
      resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb ?? 512 },
    })
  }

  run<O = unknown>(task: { module: string | URL; name: string; input?: unknown }): Promise<O> {
    const module = String(task.module).startsWith('file:')
      ? String(task.module)
      : pathToFileURL(String(task.module)).href
    return this.#piscina.run({ module, name: task.name, input: task.input }) as Promise<O>
  }

  get stats(): { threads: number; queued: number; completed: number } {
    return {
      threads: this.#piscina.threads.length,
      queued: this.#piscina.queueSize,
      completed: this.#piscina.completed,
    }
  }

  async close(): Promise<void> {
    await this.#piscina.destroy()
  }
}
