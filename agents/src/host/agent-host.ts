import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { type EventBus, errors, type Finding, type Logger, type QueryEvent } from '@cairn/core'
import {
  type Agent,
  type AgentContext,
  type AgentWorkers,
  assertAgent,
  parseDependency,
  type ReadOnlyDb,
} from '@cairn/plugins'
import type pg from 'pg'
import type { Observable, Subscription } from 'rxjs'
import semver from 'semver'
import { AgentRunner, type AgentRunnerOptions, type AgentStatus } from './agent-runner.js'
import { FindingStore } from './finding-store.js'
import { readOnlyDb } from './read-only-db.js'
import { WorkerPool } from './worker-pool.js'

export interface AgentHostOptions
  extends Pick<
    AgentRunnerOptions,
    | 'backoffInitialMs'
    | 'backoffMaxMs'
    | 'stableAfterMs'
    | 'queueLimit'
    | 'hookTimeoutMs'
    | 'errorsBeforeRestart'
    | 'blockBudgetMs'
    | 'blocksBeforeFailing'
  > {
  bus: EventBus
  log: Logger
  /** A writable pool for `cairn_meta` (findings, agent status), and the source of the agents' read-only db. */
  pool: pg.Pool
  /** Where query events come from; the bus by default, a Redis Stream relay when scaled out. */
  events$?: Observable<QueryEvent>
  /** The agents' read-only database; by default read-only transactions on `pool`. */
  db?: ReadOnlyDb
  /** Worker threads for `ctx.workers`; the host makes (and closes) its own by default. */
  workers?: AgentWorkers & { close?(): Promise<void> }
  /** How this process is named in `cairn_meta.agent_status`. */
  hostId?: string
  /** How often agent status is written to `cairn_meta.agent_status`. Default 5 s; 0 turns it off. */
  statusIntervalMs?: number
  /** Findings older than this many days are deleted, at start and hourly. Default: kept. */
  findingsRetentionDays?: number
}

/**
 * Hosts agents: checks them at registration (name, semver, dependencies
 * registered and in range), starts them in dependency order, delivers every
 * query event to each one's bounded queue, contains their failures (see
 * AgentRunner), persists every finding on the bus in `cairn_meta.findings`,
 * and writes each agent's status to `cairn_meta.agent_status`.
 */
export class AgentHost {
  readonly #runners = new Map<string, AgentRunner>()
  readonly #agents = new Map<string, Agent>()
  readonly #findings: FindingStore
  readonly #workers: AgentWorkers & { close?(): Promise<void> }
  readonly #ownsWorkers: boolean
  readonly #db: ReadOnlyDb
  readonly #hostId: string
  readonly #subscriptions: Subscription[] = []
  #statusTimer: NodeJS.Timeout | undefined
  #retentionTimer: NodeJS.Timeout | undefined
  #started = false

  constructor(private readonly options: AgentHostOptions) {
    this.#findings = new FindingStore(options.pool, options.log)
    this.#ownsWorkers = options.workers === undefined
    this.#workers = options.workers ?? new WorkerPool()
    this.#db = options.db ?? readOnlyDb(options.pool)
    this.#hostId = options.hostId ?? `${hostname()}:${process.pid}`
  }

  get findings(): FindingStore {
    return this.#findings
  }

  get agents(): readonly Agent[] {
    return [...this.#agents.values()]
  }

  /**
   * Registers agents in order; an agent's dependencies must be registered before it.
   * Refuses a bad agent now with CAIRN_ERR_PLUGIN_INVALID or CAIRN_ERR_PLUGIN_DEPENDENCY_MISSING.
   * After `start()`, a registered agent starts at once.
   */
  register(...agents: Agent[]): this {
    for (const agent of agents) {
      assertAgent(agent)
      const { name, version } = agent.meta
      if (this.#agents.has(name)) throw errors.PLUGIN_INVALID(`agent "${name}" is already registered`)
      for (const spec of agent.meta.dependsOn ?? []) {
        const dep = parseDependency(spec)
        const found = this.#agents.get(dep.name)
        if (!found)
          throw errors.PLUGIN_DEPENDENCY_MISSING(
            `agent "${name}" needs "${dep.name}", which is not registered (register it before "${name}")`,
          )
        if (dep.range && !semver.satisfies(found.meta.version, dep.range))
          throw errors.PLUGIN_DEPENDENCY_MISSING(
            `agent "${name}" needs "${dep.name}@${dep.range}", but version ${found.meta.version} is registered`,
          )
      }
      this.#agents.set(name, agent)
      const runner = this.#runner(agent)
      this.#runners.set(name, runner)
      this.options.log.debug({ agent: name, version }, 'agent registered')
      if (this.#started) void runner.start()
    }
    return this
  }

  /** Starts every registered agent, dependencies first (registration order guarantees it). */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    const { bus, events$ = bus.events$ } = this.options
    this.#subscriptions.push(
      bus.findings$.subscribe((f: Finding) => this.#findings.add(f)),
      events$.subscribe((event) => {
        for (const runner of this.#runners.values()) runner.deliver(event)
      }),
    )
    this.#findings.start()
    for (const runner of this.#runners.values()) await runner.start()
    const days = this.options.findingsRetentionDays
    if (days !== undefined) {
      const prune = () =>
        this.#findings
          .prune(days)
          .catch((err: unknown) => this.options.log.warn({ err }, 'could not delete old findings'))
      void prune()
      this.#retentionTimer = setInterval(() => void prune(), 3_600_000).unref()
    }
    const interval = this.options.statusIntervalMs ?? 5_000
    if (interval > 0) {
      await this.writeStatus()
      this.#statusTimer = setInterval(() => void this.writeStatus(), interval).unref()
    }
  }

  status(): AgentStatus[] {
    return [...this.#runners.values()].map((r) => r.status())
  }

  /** Writes every agent's status to `cairn_meta.agent_status` (what `cairn agents status` reads). */
  async writeStatus(): Promise<void> {
    const all = this.status()
    if (all.length === 0) return
    const col = <T>(f: (s: AgentStatus) => T) => all.map(f)
    try {
      await this.options.pool.query(
        `INSERT INTO cairn_meta.agent_status AS s (name, version, state, host, started_at, restarts, errors, last_error,
           events_seen, events_dropped, findings, updated_at)
         SELECT u.*, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[],
           $7::int[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[]) AS u
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, state = excluded.state, host = excluded.host,
           started_at = excluded.started_at, restarts = excluded.restarts, errors = excluded.errors,
           last_error = excluded.last_error, events_seen = excluded.events_seen,
           events_dropped = excluded.events_dropped, findings = excluded.findings, updated_at = now()`,
        [
          col((s) => s.name),
          col((s) => s.version),
          col((s) => s.state),
          col(() => this.#hostId),
          col((s) => (s.startedAt === undefined ? null : new Date(s.startedAt))),
          col((s) => s.restarts),
          col((s) => s.errors),
          col((s) => s.lastError ?? null),
          col((s) => s.eventsSeen),
          col((s) => s.eventsDropped),
          col((s) => s.findings),
        ],
      )
    } catch (err) {
      this.options.log.warn({ err }, 'could not write agent status')
    }
  }

  /** Stops agents in reverse order, then persists what is left of the findings and the final status. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#statusTimer)
    clearInterval(this.#retentionTimer)
    for (const s of this.#subscriptions.splice(0)) s.unsubscribe()
    for (const runner of [...this.#runners.values()].reverse()) await runner.stop()
    await this.#findings.close()
    if ((this.options.statusIntervalMs ?? 5_000) > 0) await this.writeStatus()
    if (this.#ownsWorkers) await this.#workers.close?.()
  }

  #runner(agent: Agent): AgentRunner {
    const { bus, log, events$ = bus.events$ } = this.options
    const agentLog = log.child({ agent: agent.meta.name })
    return new AgentRunner({
      ...this.options,
      agent,
      log,
      context: (signal, onPublish): AgentContext => ({
        log: agentLog,
        db: this.#db,
        events$,
        findings$: bus.findings$,
        publish(finding) {
          onPublish()
          return bus.publishFinding({ id: randomUUID(), at: Date.now(), ...finding, source: agent.meta.name })
        },
        workers: this.#workers,
        signal,
      }),
    })
  }
}
