import { type Finding, inTransaction, type Logger, type Severity } from '@cairn/core'
import type pg from 'pg'

export interface FindingQuery {
  kind?: string
  source?: string
  /** Epoch ms; findings at or after it. */
  since?: number
  limit?: number
}

interface FindingRow {
  id: string
  seq: string
  at: Date
  kind: string
  source: string
  reason: string
  severity: Severity
  evidence: Record<string, unknown>
  predicted_benefit_ms: number | null
}

const toFinding = (r: FindingRow): Finding => ({
  id: r.id,
  at: r.at.getTime(),
  kind: r.kind,
  source: r.source,
  reason: r.reason,
  severity: r.severity,
  evidence: r.evidence,
  ...(r.predicted_benefit_ms === null ? {} : { predictedBenefitMs: r.predicted_benefit_ms }),
})

/**
 * `cairn_meta.findings`: every finding on the bus, appended in batches (a
 * finding is immutable: the table refuses updates), listed and replayed in order.
 */
export class FindingStore {
  #buffer: Finding[] = []
  #flushing: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(
    private readonly pool: pg.Pool,
    private readonly log?: Logger,
  ) {}

  /** Flushes what was added at least every `intervalMs`. */
  start(intervalMs = 1_000): void {
    this.#timer = setInterval(() => void this.flush(), intervalMs).unref()
  }

  add(finding: Finding): void {
    // Bounded: a database that is down for long loses the oldest findings, never the process's memory.
    if (this.#buffer.length >= 10_000) this.#buffer.shift()
    this.#buffer.push(finding)
  }

  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => this.flush())
    if (this.#buffer.length === 0) return Promise.resolve()
    const batch = this.#buffer
    this.#buffer = []
    this.#flushing = this.append(batch)
      .catch((err: unknown) => {
        this.log?.warn({ err, findings: batch.length }, 'could not persist findings; will retry')
        this.#buffer.unshift(...batch)
      })
      .finally(() => {
        this.#flushing = undefined
      })
    return this.#flushing
  }

  async append(findings: readonly Finding[]): Promise<void> {
    if (findings.length === 0) return
    const col = <T>(f: (x: Finding) => T) => findings.map(f)
    await this.pool.query(
      `INSERT INTO cairn_meta.findings (id, at, kind, source, reason, severity, evidence, predicted_benefit_ms)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::float8[])
       ON CONFLICT (id) DO NOTHING`,
      [
        col((f) => f.id),
        col((f) => new Date(f.at)),
        col((f) => f.kind),
        col((f) => f.source),
        col((f) => f.reason),
        col((f) => f.severity),
        col((f) => JSON.stringify(f.evidence)),
        col((f) => f.predictedBenefitMs ?? null),
      ],
    )
  }

  /** Newest first (by publication order). */
  async list(query: FindingQuery = {}): Promise<Finding[]> {
    const { sql, params } = where(query)
    const { rows } = await this.pool.query<FindingRow>(
      `SELECT * FROM cairn_meta.findings ${sql} ORDER BY seq DESC LIMIT ${Math.max(1, Math.min(query.limit ?? 100, 10_000))}`,
      params,
    )
    return rows.map(toFinding)
  }

  /** Oldest first, in pages, from `since`: what a late agent or the UI reads to catch up. */
  async *replay(query: Omit<FindingQuery, 'limit'> = {}, pageSize = 500): AsyncGenerator<Finding> {
    let after: string | undefined
    for (;;) {
      const { sql, params } = where(query, after)
      const { rows } = await this.pool.query<FindingRow>(
        `SELECT * FROM cairn_meta.findings ${sql} ORDER BY seq LIMIT ${pageSize}`,
        params,
      )
      for (const r of rows) yield toFinding(r)
      if (rows.length < pageSize) return
      after = (rows[rows.length - 1] as FindingRow).seq
    }
  }

  /** Deletes findings older than `retentionDays` (the one DELETE the table's trigger allows); returns how many. */
  async prune(retentionDays: number): Promise<number> {
    return inTransaction(
      this.pool,
      async (client) => {
        const { rowCount } = await client.query(
          `DELETE FROM cairn_meta.findings WHERE at < now() - make_interval(days => $1)`,
          [retentionDays],
        )
        return rowCount ?? 0
      },
      "BEGIN; SET LOCAL cairn.findings_retention = 'on'",
    )
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    await this.flush()
  }
}

function where(query: FindingQuery, after?: string): { sql: string; params: unknown[] } {
  const clauses: string[] = []
  const params: unknown[] = []
  const add = (clause: (n: number) => string, value: unknown) => {
    params.push(value)
    clauses.push(clause(params.length))
  }
  if (query.kind) add((n) => `(kind = $${n} OR kind LIKE $${n} || '.%')`, query.kind)
  if (query.source) add((n) => `source = $${n}`, query.source)
  if (query.since !== undefined) add((n) => `at >= $${n}`, new Date(query.since))
  if (after !== undefined) add((n) => `seq > $${n}`, after)
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params }
}
