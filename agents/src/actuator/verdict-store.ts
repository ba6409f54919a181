import type pg from 'pg'
import type { ActionVerdict } from './retry-rule.js'

interface VerdictRow {
  key: string
  action_id: string
  kind: string
  relation: string
  verdict: ActionVerdict['verdict']
  reason: string
  predicted_benefit_ms: number | null
  measured_benefit_ms: number | null
  weighted_ratio: number | null
  attempts: number
  decided_at: Date
  details: Record<string, unknown>
}

const toVerdict = (r: VerdictRow): ActionVerdict => ({
  key: r.key,
  actionId: String(r.action_id),
  kind: r.kind,
  relation: r.relation,
  verdict: r.verdict,
  reason: r.reason,
  predictedBenefitMs: r.predicted_benefit_ms,
  measuredBenefitMs: r.measured_benefit_ms,
  weightedRatio: r.weighted_ratio,
  attempts: r.attempts,
  decidedAt: r.decided_at.getTime(),
  details: r.details,
})

/** A verdict to record. */
export type NewVerdict = Omit<ActionVerdict, 'attempts' | 'decidedAt'>

/**
 * `cairn_meta.action_verdicts`: the last verdict per candidate key, with
 * predicted against measured benefit. Advisors read it not to retry blindly;
 * the latency predictor reads it as feedback.
 */
export class VerdictStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Records a verdict; the key's attempts count up. */
  async record(v: NewVerdict, db: pg.ClientBase | pg.Pool = this.pool): Promise<ActionVerdict> {
    const { rows } = await db.query<VerdictRow>(
      `INSERT INTO cairn_meta.action_verdicts AS v (key, action_id, kind, relation, verdict, reason,
         predicted_benefit_ms, measured_benefit_ms, weighted_ratio, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (key) DO UPDATE SET action_id = EXCLUDED.action_id, kind = EXCLUDED.kind,
         relation = EXCLUDED.relation, verdict = EXCLUDED.verdict, reason = EXCLUDED.reason,
         predicted_benefit_ms = EXCLUDED.predicted_benefit_ms, measured_benefit_ms = EXCLUDED.measured_benefit_ms,
         weighted_ratio = EXCLUDED.weighted_ratio, details = EXCLUDED.details,
         attempts = v.attempts + 1, decided_at = now()
       RETURNING *`,
      [
        v.key,
        v.actionId,
        v.kind,
        v.relation,
        v.verdict,
        v.reason,
        v.predictedBenefitMs,
        v.measuredBenefitMs,
        v.weightedRatio,
        JSON.stringify(v.details),
      ],
    )
    return toVerdict(rows[0] as VerdictRow)
  }

  async verdictFor(key: string): Promise<ActionVerdict | undefined> {
    const { rows } = await this.pool.query<VerdictRow>('SELECT * FROM cairn_meta.action_verdicts WHERE key = $1', [key])
    return rows[0] === undefined ? undefined : toVerdict(rows[0])
  }

  /** Newest first. */
  async recent(options: { since?: number; kind?: string; limit?: number } = {}): Promise<ActionVerdict[]> {
    const { rows } = await this.pool.query<VerdictRow>(
      `SELECT * FROM cairn_meta.action_verdicts
       WHERE ($1::timestamptz IS NULL OR decided_at >= $1) AND ($2::text IS NULL OR kind = $2)
       ORDER BY decided_at DESC, key LIMIT $3`,
      [options.since === undefined ? null : new Date(options.since), options.kind ?? null, options.limit ?? 100],
    )
    return rows.map(toVerdict)
  }
}
