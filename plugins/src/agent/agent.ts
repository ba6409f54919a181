import type { Finding, Logger, NewFinding, QueryEvent } from '@cairn/core'
import type { Observable } from 'rxjs'

export type MaybePromise<T> = T | Promise<T>

export interface AgentMeta {
  /** Lower-case, `[a-z][a-z0-9-]*`; unique among registered agents. */
  readonly name: string
  /** Semver of the agent. */
  readonly version: string
  readonly description?: string
  /**
   * Agents this one needs, by name, each optionally with a semver range (`latency-predictor@^1`).
   * The host refuses to register it until they are registered, and starts them first.
   */
  readonly dependsOn?: readonly string[]
}

/** Read-only SQL: every statement runs in a READ ONLY transaction with a statement timeout. */
export interface ReadOnlyDb {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: R[] }>
}

/**
 * Runs a function in the host's worker-thread pool, off the proxy's event loop.
 * `module` is a file URL or path of an ES module; `name` one of its exports, a
 * function taking one structured-cloneable input and returning (a promise of)
 * a structured-cloneable output.
 */
export interface AgentWorkers {
  run<O = unknown>(task: { module: string | URL; name: string; input?: unknown }): Promise<O>
}

/** A finding as an agent publishes it: the host fills in `source` (the agent's name), `id` and `at`. */
export type AgentFinding = Omit<NewFinding, 'source'>

/** What the host gives an agent when it starts. One context per start: a restart gets a new one. */
export interface AgentContext {
  /** A child logger named after the agent. */
  readonly log: Logger
  /** Read-only access to the warehouse. */
  readonly db: ReadOnlyDb
  /** Every statement the proxy completed (all Cairn processes' when scaled out). */
  readonly events$: Observable<QueryEvent>
  /** Every finding published, by any agent (this one's included). */
  readonly findings$: Observable<Finding>
  /** Publishes an immutable finding; it is persisted in `cairn_meta.findings` and can be replayed. */
  publish(finding: AgentFinding): Finding
  /** Heavy work goes here, never on the event loop. */
  readonly workers: AgentWorkers
  /** Aborted when the agent is stopped or restarted: end loops and timers on it. */
  readonly signal: AbortSignal
}

/**
 * An agent: metadata and optional hooks. Built-in agents are written with the
 * same SDK as third-party ones.
 */
export interface Agent {
  readonly kind: 'agent'
  readonly meta: AgentMeta
  /**
   * Runs when the host starts the agent (after its dependencies), and again after a
   * crash, with backoff. May return a teardown, called on stop. A throw or a
   * rejected promise counts as a crash.
   */
  start?(ctx: AgentContext): MaybePromise<void | (() => MaybePromise<void>)>
  /**
   * Runs for every completed statement, after the fact, off the client's path:
   * events are delivered in order, one at a time per agent. An agent that falls
   * behind loses the oldest events (counted), never slows the proxy.
   */
  onResult?(event: QueryEvent, ctx: AgentContext): MaybePromise<void>
}

/** What `defineAgent` accepts: an agent without its `kind`. */
export type AgentDefinition = Omit<Agent, 'kind'>
