import { counter, type EventBus, histogram, type Logger, type QueryEvent } from '@cairn/core'
import { LRUCache } from 'lru-cache'
import { analyzeSql, type StatementAnalysis } from '../analysis/analyze-sql.js'
import { normalizeSql } from '../analysis/normalize-sql.js'
import type { RelationResolver } from '../analysis/relation-resolver.js'
import type { StatementRecord, StatementSink } from './statement-record.js'

export interface TelemetryPipelineOptions {
  bus: EventBus
  resolver: RelationResolver
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
const parseFailures = counter({
  name: 'cairn_proxy_parse_failures_total',
  help: 'Statements the SQL parser rejected (forwarded as they were)',
})

/** What a statement that does not parse is reported as. */
const unparsed = (text: string): StatementAnalysis => {
  const normalizedText = normalizeSql(text).text
  return {
    text,
    normalizedText,
    fingerprint: '',
    kind: 'unknown',
    relationsRead: [],
    relationsWritten: [],
    deterministic: false,
    nondeterministicReasons: ['not parsed'],
    columns: [],
  }
}

/**
 * Turns the session's statement records into QueryEvents, off the proxy's path:
 * records are queued (the session's `record()` only pushes), then analysed in
 * short slices on later turns of the event loop. Parsing costs ~200 µs, so it
 * runs once per normalized text (LRU), never per statement.
 */
export class TelemetryPipeline implements StatementSink {
  readonly #queue: StatementRecord[] = []
  readonly #byText = new LRUCache<string, StatementAnalysis[]>({ max: 2_000 })
  readonly #byShape = new LRUCache<string, StatementAnalysis[]>({ max: 5_000 })
  #scheduled = false
  readonly #maxQueue: number
  readonly #sliceMs: number

  constructor(private readonly options: TelemetryPipelineOptions) {
    this.#maxQueue = options.maxQueue ?? 50_000
    this.#sliceMs = options.sliceMs ?? 4
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

  #analysis(text: string): StatementAnalysis[] {
    const known = this.#byText.get(text)
    if (known) return known
    const shape = normalizeSql(text).text
    let analysis = this.#byShape.get(shape)
    if (!analysis) {
      try {
        analysis = analyzeSql(text)
      } catch {
        parseFailures.inc()
        analysis = [unparsed(text)]
      }
      this.#byShape.set(shape, analysis)
    }
    this.#byText.set(text, analysis)
    return analysis
  }

  #publish(r: StatementRecord): void {
    const statements = this.#analysis(r.text)
    const a = statements[r.statementIndex] ?? statements[0] ?? unparsed(r.text)
    const resolve = (ref: { schema?: string; name: string }) => this.options.resolver.resolve(ref, r.searchPath, r.user)
    const event: QueryEvent = {
      at: r.at,
      database: r.database,
      user: r.user,
      applicationName: r.applicationName,
      sessionId: r.sessionId,
      fingerprint: a.fingerprint,
      normalizedText: a.normalizedText,
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
    }
    const frozen = this.options.bus.publish('query', event)
    published.inc()
    duration.observe({ kind: a.kind }, r.durationMs / 1000)
    this.options.onEvent?.(frozen)
  }
}
