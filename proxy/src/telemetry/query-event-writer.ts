import { counter, type Logger, type QueryEvent } from '@cairn/core'
import type pg from 'pg'

export interface QueryEventWriterOptions {
  /** A connection of the writer's own. */
  client: pg.Client
  log: Logger
  retentionDays: number
  /** Flush at least this often. Default 1 s. */
  intervalMs?: number
  /** Events held beyond this (database slow or down) are dropped and counted. Default 20,000. */
  maxBuffered?: number
}

const maxStatementText = 64 * 1024

const dropped = counter({
  name: 'cairn_proxy_telemetry_persist_dropped_total',
  help: 'Query events not persisted because the write buffer was full',
})
const persisted = counter({
  name: 'cairn_proxy_query_events_persisted_total',
  help: 'Query events written to cairn_meta',
})

/**
 * Persists query events to cairn_meta.query_events in batches (one INSERT …
 * SELECT FROM unnest per flush), keeps a partition per day ahead and drops
 * partitions past the retention.
 */
export class QueryEventWriter {
  #buffer: QueryEvent[] = []
  #timer: NodeJS.Timeout | undefined
  #maintenance: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  readonly #maxBuffered: number

  constructor(private readonly options: QueryEventWriterOptions) {
    this.#maxBuffered = options.maxBuffered ?? 20_000
  }

  async start(): Promise<void> {
    await this.maintainPartitions()
    this.#timer = setInterval(() => void this.flush(), this.options.intervalMs ?? 1_000).unref()
    this.#maintenance = setInterval(() => void this.maintainPartitions(), 3_600_000).unref()
  }

  async maintainPartitions(): Promise<void> {
    try {
      await this.options.client.query('SELECT cairn_meta.maintain_query_event_partitions(2, $1)', [
        this.options.retentionDays,
      ])
    } catch (err) {
      this.options.log.warn({ err }, 'could not maintain query event partitions')
    }
  }

  add(event: QueryEvent): void {
    if (this.#buffer.length >= this.#maxBuffered) {
      dropped.inc()
      return
    }
    this.#buffer.push(event)
  }

  /** Writes what is buffered; concurrent calls share one write. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing
    if (this.#buffer.length === 0) return Promise.resolve()
    const batch = this.#buffer
    this.#buffer = []
    this.#flushing = this.#write(batch).finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #write(batch: QueryEvent[]): Promise<void> {
    const col = <T>(f: (e: QueryEvent) => T) => batch.map(f)
    try {
      await this.options.client.query(
        `INSERT INTO cairn_meta.query_events (at, database, user_name, application_name, session_id, fingerprint,
           normalized_text, kind, relations_read, relations_written, deterministic, duration_ms, pool_wait_ms, rows,
           bytes_out, sqlstate, cache, cache_reason, statement_text, params, columns)
         SELECT to_timestamp(a / 1000.0), b, c, d, e, f, g, h,
                ARRAY(SELECT jsonb_array_elements_text(i)), ARRAY(SELECT jsonb_array_elements_text(j)), k, l, m, n, o, p, q, r,
                s, CASE WHEN t IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(t)) END, u
         FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::jsonb[], $10::jsonb[], $11::bool[], $12::float8[], $13::float8[], $14::int8[], $15::int8[],
                     $16::text[], $17::text[], $18::text[], $19::text[], $20::jsonb[], $21::jsonb[])
              AS t(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u)`,
        [
          col((e) => e.at),
          col((e) => e.database),
          col((e) => e.user),
          col((e) => e.applicationName),
          col((e) => e.sessionId),
          col((e) => e.fingerprint),
          col((e) => e.normalizedText),
          col((e) => e.kind),
          col((e) => JSON.stringify(e.relationsRead)),
          col((e) => JSON.stringify(e.relationsWritten)),
          col((e) => e.deterministic),
          col((e) => e.durationMs),
          col((e) => e.poolWaitMs),
          col((e) => e.rows),
          col((e) => e.bytesOut),
          col((e) => e.sqlstate ?? null),
          col((e) => e.cache ?? null),
          col((e) => e.cacheReason ?? null),
          // Very long statements (generated IN lists) are not kept whole: the normalized text stands for them.
          col((e) => (e.text !== undefined && e.text.length <= maxStatementText ? e.text : null)),
          col((e) => (e.params ? JSON.stringify(e.params) : null)),
          col((e) => JSON.stringify(e.columns)),
        ],
      )
      persisted.inc(batch.length)
    } catch (err) {
      dropped.inc(batch.length)
      this.options.log.warn({ err, events: batch.length }, 'could not persist query events')
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    clearInterval(this.#maintenance)
    await this.flush()
  }
}
