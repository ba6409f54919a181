import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { errors } from '@cairn/core'
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
  /**
   * Cores' worth of time the tasks may take on average, e.g. 0.25: after a task
   * that ran `d` ms the next starts no sooner than `d / share - d` ms later. On a
   * small machine the agents' heavy work would otherwise take CPU from
   * PostgreSQL and the proxy. Default 0.25; `Infinity` turns the limit off.
   */
  cpuShare?: number
}

/** The host's worker threads: every agent's heavy work runs here, never on the proxy's event loop. */
export class WorkerPool implements AgentWorkers {
  readonly #piscina: Piscina
  readonly #share: number
  readonly #maxQueue: number
  /** Epoch ms before which no task starts: the CPU share's pause after the last one. */
  #readyAt = 0
  #waiting = 0
  #lastTaskMs = 0

  constructor(options: WorkerPoolOptions = {}) {
    const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism() - 1)
    this.#share = options.cpuShare ?? 0.25
    if (!(this.#share > 0)) throw errors.CONFIG_INVALID(`agent CPU share must be above 0, got ${this.#share}`)
    this.#maxQueue = options.maxQueue ?? 1_000
    this.#piscina = new Piscina({
      filename: workerModule(import.meta.url, './worker-entry.js'),
      minThreads: 0,
      maxThreads,
      maxQueue: options.maxQueue ?? 1_000,
      idleTimeout: 30_000,
      resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb ?? 512 },
    })
  }

  async run<O = unknown>(task: { module: string | URL; name: string; input?: unknown }): Promise<O> {
    const module = String(task.module).startsWith('file:')
      ? String(task.module)
      : pathToFileURL(String(task.module)).href
    if (this.#waiting >= this.#maxQueue) throw new Error(`the agents' worker queue is full (${this.#maxQueue} tasks)`)
    this.#waiting++
    try {
      while (Date.now() < this.#readyAt) await sleep(this.#readyAt - Date.now())
    } finally {
      this.#waiting--
    }
    const { value, ms } = (await this.#piscina.run({ module, name: task.name, input: task.input })) as {
      value: O
      ms: number
    }
    this.#lastTaskMs = ms
    if (Number.isFinite(this.#share)) this.#readyAt = Math.max(this.#readyAt, Date.now()) + ms / this.#share - ms
    return value
  }

  get stats(): { threads: number; queued: number; completed: number; readyAt: number; lastTaskMs: number } {
    return {
      threads: this.#piscina.threads.length,
      queued: this.#piscina.queueSize + this.#waiting,
      completed: this.#piscina.completed,
      readyAt: this.#readyAt,
      lastTaskMs: this.#lastTaskMs,
    }
  }

  async close(): Promise<void> {
    await this.#piscina.destroy()
  }
}
