import { counter, type Logger, type QueryEvent } from '@cairn/core'
import type { Agent, AgentContext } from '@cairn/plugins'
import { BoundedQueue } from './bounded-queue.js'

export type AgentState = 'starting' | 'running' | 'backoff' | 'stopped' | 'failed'

export interface AgentStatus {
  readonly name: string
  readonly version: string
  readonly state: AgentState
  readonly startedAt: number | undefined
  readonly restarts: number
  readonly errors: number
  readonly lastError: string | undefined
  readonly eventsSeen: number
  readonly eventsDropped: number
  readonly findings: number
}

export interface AgentRunnerOptions {
  agent: Agent
  log: Logger
  /** A fresh context for each start, bound to that start's signal. */
  context(signal: AbortSignal, onPublish: () => void): AgentContext
  /** First restart delay; doubles per crash up to `backoffMaxMs`. Default 1 s. */
  backoffInitialMs?: number
  /** Default 60 s. */
  backoffMaxMs?: number
  /** Running this long without a crash resets the backoff. Default 60 s. */
  stableAfterMs?: number
  /** Events waiting beyond this are dropped, oldest first (and counted). Default 1,000: queued events outlive the young generation, and a long queue costs the proxy GC time. */
  queueLimit?: number
  /** A `start` or `onResult` that has not settled after this is a hang: the agent is restarted. Default 30 s. */
  hookTimeoutMs?: number
  /** Consecutive `onResult` errors that make a crash. Default 5. */
  errorsBeforeRestart?: number
  /** One synchronous hook call holding the event loop longer than this is counted as blocking. Default 25 ms. */
  blockBudgetMs?: number
  /** Blocking calls after which the agent is stopped for good (state `failed`). Default 3. */
  blocksBeforeFailing?: number
}

const crashes = counter({
  name: 'cairn_agent_crashes_total',
  help: 'Agent crashes (a throwing or hanging hook), by agent',
  labelNames: ['agent'] as const,
})
const hookErrors = counter({
  name: 'cairn_agent_errors_total',
  help: 'Errors thrown by agent hooks, by agent',
  labelNames: ['agent'] as const,
})
const droppedEvents = counter({
  name: 'cairn_agent_events_dropped_total',
  help: 'Query events an agent fell too far behind to see, by agent',
  labelNames: ['agent'] as const,
})

const TIMEOUT = Symbol('timeout')
const sliceMs = 4

/**
 * One agent's life under the host. Its hooks run with their errors contained:
 * a throw or a hang is a crash, answered by a restart with exponential backoff;
 * a hook that holds the event loop is detected and, if it keeps doing so, the
 * agent is stopped. Events reach it through a bounded queue drained in short
 * slices, so a slow agent falls behind (and loses its oldest events) instead of
 * slowing the proxy.
 */
export class AgentRunner {
  readonly #o: Required<Omit<AgentRunnerOptions, 'agent' | 'log' | 'context'>> & AgentRunnerOptions
  #state: AgentState = 'stopped'
  #controller: AbortController | undefined
  #context: AgentContext | undefined
  #teardown: (() => unknown) | undefined
  #generation = 0
  readonly #queue: BoundedQueue<QueryEvent>
  #draining = false
  /** When the `onResult` call in flight started (performance.now()), for the watchdog. */
  #inflightSince: number | undefined
  #watchdog: NodeJS.Timeout | undefined
  #restartTimer: NodeJS.Timeout | undefined
  #consecutiveCrashes = 0
  #consecutiveErrors = 0
  #blocks = 0
  #startedAt: number | undefined
  #restarts = 0
  #errors = 0
  #lastError: string | undefined
  #eventsSeen = 0
  #eventsDropped = 0
  #findings = 0

  constructor(options: AgentRunnerOptions) {
    this.#o = {
      backoffInitialMs: 1_000,
      backoffMaxMs: 60_000,
      stableAfterMs: 60_000,
      queueLimit: 1_000,
      hookTimeoutMs: 30_000,
      errorsBeforeRestart: 5,
      blockBudgetMs: 25,
      blocksBeforeFailing: 3,
      ...options,
    }
    this.#queue = new BoundedQueue(this.#o.queueLimit)
  }

  get name(): string {
    return this.#o.agent.meta.name
  }

  get state(): AgentState {
    return this.#state
  }

  status(): AgentStatus {
    return {
      name: this.name,
      version: this.#o.agent.meta.version,
      state: this.#state,
      startedAt: this.#startedAt,
      restarts: this.#restarts,
      errors: this.#errors,
      lastError: this.#lastError,
      eventsSeen: this.#eventsSeen,
      eventsDropped: this.#eventsDropped,
      findings: this.#findings,
    }
  }

  /** Starts the agent; resolves once its `start` settled (a failed start schedules a restart and resolves too). */
  async start(): Promise<void> {
    if (this.#state === 'failed') return
    const generation = ++this.#generation
    const controller = new AbortController()
    this.#controller = controller
    this.#state = 'starting'
    const ctx = this.#o.context(controller.signal, () => this.#findings++)
    this.#context = ctx
    const start = this.#o.agent.start
    if (start) {
      const outcome = await this.#settle(() => start(ctx))
      if (generation !== this.#generation) return
      if (outcome.error !== undefined) return this.#crash('start', outcome.error)
      if (typeof outcome.value === 'function') this.#teardown = outcome.value as () => unknown
    }
    this.#state = 'running'
    this.#startedAt = Date.now()
    if (this.#o.agent.onResult) {
      this.#watchdog = setInterval(
        () => {
          const since = this.#inflightSince
          if (since !== undefined && performance.now() - since > this.#o.hookTimeoutMs) this.#crash('onResult', TIMEOUT)
        },
        Math.min(1_000, Math.max(10, this.#o.hookTimeoutMs / 2)),
      )
      this.#watchdog.unref()
    }
    this.#o.log.info({ agent: this.name, version: this.#o.agent.meta.version }, 'agent started')
    if (this.#queue.length > 0 && !this.#draining) {
      this.#draining = true
      setImmediate(() => void this.#drain())
    }
  }

  /** Hands over a completed statement; never blocks and never throws. */
  deliver(event: QueryEvent): void {
    if (!this.#o.agent.onResult || (this.#state !== 'running' && this.#state !== 'starting')) return
    if (this.#queue.push(event)) {
      this.#eventsDropped++
      droppedEvents.inc({ agent: this.name })
    }
    if (!this.#draining && this.#state === 'running') {
      this.#draining = true
      setImmediate(() => void this.#drain())
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.#restartTimer)
    this.#generation++
    this.#queue.clear()
    const wasFailed = this.#state === 'failed'
    await this.#end()
    if (!wasFailed) this.#state = 'stopped'
  }

  async #drain(): Promise<void> {
    const generation = this.#generation
    const onResult = this.#o.agent.onResult
    const ctx = this.#context
    let sliceStart = performance.now()
    try {
      while (
        this.#queue.length > 0 &&
        this.#state === 'running' &&
        generation === this.#generation &&
        onResult &&
        ctx
      ) {
        const event = this.#queue.shift() as QueryEvent
        this.#eventsSeen++
        const t0 = performance.now()
        this.#inflightSince = t0
        const outcome = await this.#settle(
          () => onResult(event, ctx),
          () => this.#checkBlocking(t0),
          false,
        )
        // A hang was answered by the watchdog meanwhile: this drain belongs to the crashed start.
        if (generation !== this.#generation) return
        this.#inflightSince = undefined
        if (outcome.error !== undefined) {
          this.#noteError(outcome.error)
          if (++this.#consecutiveErrors >= this.#o.errorsBeforeRestart) return this.#crash('onResult', outcome.error)
        } else {
          this.#consecutiveErrors = 0
        }
        if (this.#state !== 'running') return
        if (performance.now() - sliceStart > sliceMs) {
          await new Promise((resolve) => setImmediate(resolve))
          sliceStart = performance.now()
        }
      }
    } finally {
      if (generation === this.#generation) this.#draining = false
      if (generation === this.#generation && this.#queue.length > 0 && this.#state === 'running') {
        this.#draining = true
        setImmediate(() => void this.#drain())
      }
    }
  }

  /**
   * Runs a hook: a throw or a rejection comes back as `error`, and so does a hang past the
   * timeout when `race` is set. Per-event hooks do not race (a timer per event costs the event
   * loop); the watchdog catches their hangs instead.
   */
  async #settle(
    hook: () => unknown,
    afterSync?: () => void,
    race = true,
  ): Promise<{ value?: unknown; error?: unknown }> {
    let result: unknown
    try {
      result = hook()
    } catch (err) {
      afterSync?.()
      return { error: err ?? new Error('hook threw a nullish value') }
    }
    afterSync?.()
    if (!isThenable(result)) return { value: result }
    if (!race) {
      try {
        return { value: await result }
      } catch (err) {
        return { error: err ?? new Error('hook rejected with a nullish value') }
      }
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), this.#o.hookTimeoutMs)
    })
    try {
      const value = await Promise.race([result, timeout])
      return value === TIMEOUT ? { error: TIMEOUT } : { value }
    } catch (err) {
      return { error: err ?? new Error('hook rejected with a nullish value') }
    } finally {
      clearTimeout(timer)
    }
  }

  #checkBlocking(t0: number): void {
    const held = performance.now() - t0
    if (held <= this.#o.blockBudgetMs) return
    this.#blocks++
    const message = `onResult held the event loop for ${held.toFixed(0)} ms (budget ${this.#o.blockBudgetMs} ms); heavy work belongs in ctx.workers`
    this.#noteError(new Error(message))
    if (this.#blocks >= this.#o.blocksBeforeFailing) {
      this.#o.log.error({ agent: this.name, blocks: this.#blocks }, `agent stopped: ${message}`)
      this.#lastError = `stopped after ${this.#blocks} blocking calls: ${message}`
      this.#state = 'failed'
      this.#generation++
      this.#queue.clear()
      void this.#end()
    }
  }

  #noteError(err: unknown): void {
    this.#errors++
    this.#lastError = describe(err)
    hookErrors.inc({ agent: this.name })
    this.#o.log.warn({ agent: this.name, err }, 'agent hook failed')
  }

  #crash(hook: string, err: unknown): void {
    if (this.#state === 'failed') return
    const what = err === TIMEOUT ? `${hook} did not settle within ${this.#o.hookTimeoutMs} ms` : describe(err)
    this.#errors++
    this.#lastError = `${hook}: ${what}`
    crashes.inc({ agent: this.name })
    if (this.#startedAt !== undefined && Date.now() - this.#startedAt > this.#o.stableAfterMs)
      this.#consecutiveCrashes = 0
    const delay = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** this.#consecutiveCrashes)
    this.#consecutiveCrashes++
    this.#o.log.error({ agent: this.name, err: err === TIMEOUT ? what : err, restartInMs: delay }, 'agent crashed')
    this.#generation++
    this.#queue.clear()
    this.#state = 'backoff'
    void this.#end()
    this.#restartTimer = setTimeout(() => {
      this.#restarts++
      void this.start()
    }, delay)
    this.#restartTimer.unref()
  }

  /** Aborts the current start's signal and runs its teardown, contained. */
  async #end(): Promise<void> {
    this.#draining = false
    this.#inflightSince = undefined
    clearInterval(this.#watchdog)
    this.#controller?.abort()
    this.#controller = undefined
    this.#context = undefined
    const teardown = this.#teardown
    this.#teardown = undefined
    this.#startedAt = undefined
    if (teardown) {
      const outcome = await this.#settle(teardown)
      if (outcome.error !== undefined) this.#noteError(outcome.error === TIMEOUT ? 'teardown timed out' : outcome.error)
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

function describe(err: unknown): string {
  if (err === TIMEOUT) return 'timed out'
  return err instanceof Error ? err.message : String(err)
}
