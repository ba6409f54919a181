import { counter, type EventBus, histogram, type Logger, type QueryEvent } from '@cairn/core'
import type { RelationResolver } from '../analysis/relation-resolver.js'
import { StatementAnalyzer, unparsed } from '../analysis/statement-analyzer.js'
import { readBind, readBindParams } from '../protocol/message-fields.js'
import type { StatementRecord, StatementSink } from './statement-record.js'

export interface TelemetryPipelineOptions {
  bus: EventBus
  resolver: RelationResolver
  /** Shared with the result cache, so each shape is parsed once; a private one by default. */
  analyzer?: StatementAnalyzer
  log: Logger
  /** Also called with every event, e.g. to persist it. */
  onEvent?: (event: QueryEvent) => void
  /** Records waiting beyond this are dropped (and counted), never queued without bound. Default 50,000. */
  maxQueue?: number
  /** Most time spent analysing per turn of the event loop, so client traffic never waits long. Default 4 ms. */
  sliceMs?: number
}

const dropped = counter({
  name: 'cairn_proxy_telemetry_dropped_total',
  help: 'Statement records dropped because the telemetry queue was full',
})
const duration = histogram({
  name: 'cairn_proxy_query_duration_seconds',
  help: 'Statement duration as seen by the proxy, first byte in to last byte out',
  labelNames: ['kind'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
})
const published = counter({ name: 'cairn_proxy_query_events_total', help: 'Query events published on the bus' })
/**
 * Turns the session's statement records into QueryEvents, off the proxy's path:
 * records are queued (the session's `record()` only pushes), then analysed in
 * short slices on later turns of the event loop, through the shared StatementAnalyzer
 * (one parse per normalized text, never per statement).
 */
export class TelemetryPipeline implements StatementSink {
  readonly #queue: StatementRecord[] = []
  #scheduled = false
  readonly #maxQueue: number
  readonly #sliceMs: number
  readonly #analyzer: StatementAnalyzer

  constructor(private readonly options: TelemetryPipelineOptions) {
    this.#maxQueue = options.maxQueue ?? 50_000
    this.#sliceMs = options.sliceMs ?? 4
    this.#analyzer = options.analyzer ?? new StatementAnalyzer()
  }

  record(r: StatementRecord): void {
    if (this.#queue.length >= this.#maxQueue) {
      dropped.inc()
      return
    }
    this.#queue.push(r)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#drain())
    }
  }

  get queued(): number {
    return this.#queue.length
  }

  #drain(): void {
    const until = performance.now() + this.#sliceMs
    let i = 0
    try {
      while (i < this.#queue.length && performance.now() < until) this.#publish(this.#queue[i++] as StatementRecord)
    } finally {
      this.#queue.splice(0, i)
      this.#scheduled = this.#queue.length > 0
      if (this.#scheduled) setImmediate(() => this.#drain())
    }
  }

  #publish(r: StatementRecord): void {
    const statements = this.#analyzer.analyze(r.text)
    const a = statements[r.statementIndex] ?? statements[0] ?? unparsed(r.text)
    const params = r.bind ? bindParams(r.bind) : undefined
    const resolve = (ref: { schema?: string; name: string }) => this.options.resolver.resolve(ref, r.searchPath, r.user)
    const event: QueryEvent = {
      at: r.at,
      database: r.database,
      user: r.user,
      applicationName: r.applicationName,
      sessionId: r.sessionId,
      fingerprint: a.fingerprint,
      normalizedText: a.normalizedText,
      // Analyses are shared by shape, so their own text may carry another statement's literals.
      ...(statements.length <= 1 ? { text: r.text.trim() } : {}),
      ...(params ? { params } : {}),
      kind: a.kind,
      relationsRead: a.relationsRead.map(resolve),
      relationsWritten: a.relationsWritten.map(resolve),
      deterministic: a.deterministic,
      nondeterministicReasons: [...a.nondeterministicReasons],
      columns: a.columns.map((c) => ({
        relation: c.relation ? resolve(c.relation) : null,
        column: c.column,
        role: c.role,
      })),
      durationMs: r.durationMs,
      poolWaitMs: r.poolWaitMs,
      rows: r.rows,
      bytesOut: r.bytesOut,
      ...(r.sqlstate ? { sqlstate: r.sqlstate } : {}),
      ...(r.cache ? { cache: r.cache } : {}),
      ...(r.cacheReason ? { cacheReason: r.cacheReason } : {}),
    }
    const frozen = this.options.bus.publish('query', event)
    published.inc()
    duration.observe({ kind: a.kind }, r.durationMs / 1000)
    this.options.onEvent?.(frozen)
  }
}

/** The text parameters of a Bind frame; undefined when binary or malformed (telemetry never throws). */
function bindParams(frame: Buffer): (string | null)[] | undefined {
  try {
    const { restOffset } = readBind(frame)
    const params = readBindParams(frame, restOffset)
    return params && params.length > 0 ? params : undefined
  } catch {
    return undefined
  }
}
