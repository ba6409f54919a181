import type pg from 'pg'
import type { ActionAuditEntry, ActionAuditEvent, ActionRecord, ActionState } from './action-record.js'
import type { ProposedAction } from './proposed-action.js'

interface ActionRow {
  id: string
  kind: string
  key: string
  relation: string
  apply_sql: string
  apply_concurrently: boolean
  rollback_sql: string
  rollback_concurrently: boolean
  reason: string
  evidence: Record<string, unknown>
  predicted_benefit_ms: number | null
  measured_benefit_ms: number | null
  size_bytes: string | null
  measured_size_bytes: string | null
  affected_fingerprints: string[]
  source: string
  state: ActionState
  state_reason: string | null
  proposed_at: Date
  approved_at: Date | null
  approved_by: string | null
  applied_at: Date | null
  verified_at: Date | null
  finished_at: Date | null
  updated_at: Date
  verdict: Record<string, unknown> | null
}

const time = (d: Date | null) => (d === null ? null : d.getTime())

function toRecord(r: ActionRow): ActionRecord {
  return {
    id: String(r.id),
    kind: r.kind,
    key: r.key,
    relation: r.relation,
    apply: { sql: r.apply_sql, concurrently: r.apply_concurrently },
    rollback: { sql: r.rollback_sql, concurrently: r.rollback_concurrently },
    reason: r.reason,
    evidence: r.evidence,
    ...(r.predicted_benefit_ms === null ? {} : { predictedBenefitMs: r.predicted_benefit_ms }),
    ...(r.size_bytes === null ? {} : { sizeBytes: Number(r.size_bytes) }),
    affectedFingerprints: r.affected_fingerprints,
    source: r.source,
    state: r.state,
    stateReason: r.state_reason,
    proposedAt: r.proposed_at.getTime(),
    approvedAt: time(r.approved_at),
    approvedBy: r.approved_by,
    appliedAt: time(r.applied_at),
    verifiedAt: time(r.verified_at),
    finishedAt: time(r.finished_at),
    updatedAt: r.updated_at.getTime(),
    measuredBenefitMs: r.measured_benefit_ms,
    measuredSizeBytes: r.measured_size_bytes === null ? null : Number(r.measured_size_bytes),
    verdict: r.verdict,
  }
}

/** A step to write to the trail. */
export interface AuditStep {
  readonly actor: string
  readonly event: ActionAuditEvent
  readonly sql?: string | null
  readonly outcome: ActionAuditEntry['outcome']
  readonly detail?: Record<string, unknown>
}

/** What a state change may set besides the state. */
export interface ActionPatch {
  readonly stateReason?: string | null
  readonly approvedBy?: string
  readonly measuredBenefitMs?: number | null
  readonly measuredSizeBytes?: number | null
  readonly verdict?: Record<string, unknown> | null
}

export interface ActionQuery {
  /** Epoch ms: actions proposed or changed at or after it. */
  readonly since?: number
  readonly state?: ActionState | readonly ActionState[]
  readonly limit?: number
}

/** States in which an action holds its key: a second proposal of the key finds it. */
export const liveStates: readonly ActionState[] = ['recommended', 'approved', 'applying', 'verifying', 'kept']

/** `cairn_meta.actions` and its append-only trail `cairn_meta.action_audit` (migration 0014). */
export class ActionStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Stores a proposal in its first state, with its trail rows, in one
   * transaction. Returns undefined when a live action already holds the key
   * (another process was faster): the caller reads that one.
   */
  async insert(
    action: ProposedAction,
    state: ActionState,
    patch: ActionPatch,
    steps: readonly AuditStep[],
  ): Promise<ActionRecord | undefined> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<ActionRow>(
        `INSERT INTO cairn_meta.actions (kind, key, relation, apply_sql, apply_concurrently, rollback_sql,
           rollback_concurrently, reason, evidence, predicted_benefit_ms, size_bytes, affected_fingerprints, source,
           state, state_reason, approved_at, approved_by, verdict, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
           CASE WHEN $16::text IS NULL THEN NULL ELSE now() END, $16, $17,
           CASE WHEN $14 IN ('rejected', 'failed') THEN now() END)
         ON CONFLICT (key) WHERE state IN ('recommended', 'approved', 'applying', 'verifying', 'kept') DO NOTHING
         RETURNING *`,
        [
          action.kind,
          action.key,
          action.relation,
          action.apply.sql,
          action.apply.concurrently,
          action.rollback.sql,
          action.rollback.concurrently,
          action.reason,
          JSON.stringify(action.evidence ?? {}),
          action.predictedBenefitMs ?? null,
          action.sizeBytes === undefined ? null : Math.round(action.sizeBytes),
          action.affectedFingerprints,
          action.source,
          state,
          patch.stateReason ?? null,
          patch.approvedBy ?? null,
          patch.verdict === undefined || patch.verdict === null ? null : JSON.stringify(patch.verdict),
        ],
      )
      const row = rows[0]
      if (row === undefined) {
        await client.query('ROLLBACK')
        return undefined
      }
      for (const step of steps) await this.#audit(client, String(row.id), step)
      await client.query('COMMIT')
      return toRecord(row)
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  /**
   * Moves an action from one of `from` to `to`, with its trail rows, in one
   * transaction. Returns undefined when it was not in one of `from` (someone
   * else moved it first): the state machine's guard across processes.
   */
  async transition(
    id: string,
    from: readonly ActionState[],
    to: ActionState,
    patch: ActionPatch,
    steps: readonly AuditStep[],
    client?: pg.ClientBase,
  ): Promise<ActionRecord | undefined> {
    const run = async (c: pg.ClientBase) => {
      const { rows } = await c.query<ActionRow>(
        `UPDATE cairn_meta.actions SET
           state = $3,
           state_reason = CASE WHEN $4 THEN $5 ELSE state_reason END,
           approved_at = CASE WHEN $6::text IS NULL THEN approved_at ELSE now() END,
           approved_by = COALESCE($6, approved_by),
           applied_at = CASE WHEN $3 = 'verifying' THEN now() ELSE applied_at END,
           verified_at = CASE WHEN $3 IN ('kept', 'rolled_back') AND state = 'verifying' THEN now() ELSE verified_at END,
           finished_at = CASE WHEN $3 IN ('kept', 'rolled_back', 'failed', 'rejected') THEN now() ELSE finished_at END,
           measured_benefit_ms = CASE WHEN $7 THEN $8 ELSE measured_benefit_ms END,
           measured_size_bytes = CASE WHEN $9 THEN $10 ELSE measured_size_bytes END,
           verdict = CASE WHEN $11 THEN $12::jsonb ELSE verdict END,
           updated_at = now()
         WHERE id = $1 AND state = ANY($2::text[])
         RETURNING *`,
        [
          id,
          from,
          to,
          patch.stateReason !== undefined,
          patch.stateReason ?? null,
          patch.approvedBy ?? null,
          patch.measuredBenefitMs !== undefined,
          patch.measuredBenefitMs ?? null,
          patch.measuredSizeBytes !== undefined,
          patch.measuredSizeBytes === undefined || patch.measuredSizeBytes === null
            ? null
            : Math.round(patch.measuredSizeBytes),
          patch.verdict !== undefined,
          patch.verdict === undefined || patch.verdict === null ? null : JSON.stringify(patch.verdict),
        ],
      )
      const row = rows[0]
      if (row === undefined) return undefined
      for (const step of steps) await this.#audit(c, id, step)
      return toRecord(row)
    }
    if (client) return run(client)
    const own = await this.pool.connect()
    try {
      await own.query('BEGIN')
      const record = await run(own)
      await own.query(record === undefined ? 'ROLLBACK' : 'COMMIT')
      return record
    } catch (err) {
      await own.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      own.release()
    }
  }

  /** Appends one trail row (outside any state change). */
  async audit(actionId: string, step: AuditStep): Promise<void> {
    await this.#audit(this.pool, actionId, step)
  }

  async #audit(db: pg.ClientBase | pg.Pool, actionId: string, step: AuditStep): Promise<void> {
    await db.query(
      `INSERT INTO cairn_meta.action_audit (action_id, actor, event, sql, outcome, detail)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [actionId, step.actor, step.event, step.sql ?? null, step.outcome, JSON.stringify(step.detail ?? {})],
    )
  }

  async get(id: string): Promise<ActionRecord | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined
    const { rows } = await this.pool.query<ActionRow>('SELECT * FROM cairn_meta.actions WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  /** The live action holding a key, if any. */
  async liveByKey(key: string): Promise<ActionRecord | undefined> {
    const { rows } = await this.pool.query<ActionRow>(
      'SELECT * FROM cairn_meta.actions WHERE key = $1 AND state = ANY($2::text[]) LIMIT 1',
      [key, liveStates],
    )
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  /** The most recent action of a key, whatever its state. */
  async latestByKey(key: string): Promise<ActionRecord | undefined> {
    const { rows } = await this.pool.query<ActionRow>(
      'SELECT * FROM cairn_meta.actions WHERE key = $1 ORDER BY id DESC LIMIT 1',
      [key],
    )
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  /** Newest first. */
  async list(query: ActionQuery = {}): Promise<ActionRecord[]> {
    const states = query.state === undefined ? null : typeof query.state === 'string' ? [query.state] : query.state
    const { rows } = await this.pool.query<ActionRow>(
      `SELECT * FROM cairn_meta.actions
       WHERE ($1::timestamptz IS NULL OR updated_at >= $1) AND ($2::text[] IS NULL OR state = ANY($2))
       ORDER BY id DESC LIMIT $3`,
      [query.since === undefined ? null : new Date(query.since), states, query.limit ?? 100],
    )
    return rows.map(toRecord)
  }

  /** Approved actions, oldest approval first: the order they are applied in. */
  async approved(): Promise<ActionRecord[]> {
    const { rows } = await this.pool.query<ActionRow>(
      `SELECT * FROM cairn_meta.actions WHERE state = 'approved' ORDER BY approved_at, id`,
    )
    return rows.map(toRecord)
  }

  /** Actions whose process stopped mid-change: applying or verifying. */
  async inFlight(): Promise<ActionRecord[]> {
    const { rows } = await this.pool.query<ActionRow>(
      `SELECT * FROM cairn_meta.actions WHERE state IN ('applying', 'verifying') ORDER BY id`,
    )
    return rows.map(toRecord)
  }

  /**
   * What the budgets count: changes applying or verifying now, and the bytes
   * taken by what live changes created (measured once applied, estimated before).
   */
  async usage(db: pg.ClientBase | pg.Pool = this.pool): Promise<{ inFlight: number; storageBytes: number }> {
    const { rows } = await db.query<{ in_flight: string; storage_bytes: string }>(
      // An object a later kept drop removed (`index.drop` of the index an `index.create` made) takes no storage.
      `SELECT count(*) FILTER (WHERE state IN ('applying', 'verifying')) AS in_flight,
              COALESCE(sum(COALESCE(measured_size_bytes, size_bytes, 0)), 0) AS storage_bytes
       FROM cairn_meta.actions a WHERE state IN ('applying', 'verifying', 'kept')
         AND NOT (a.kind LIKE '%.create' AND EXISTS (
           SELECT 1 FROM cairn_meta.actions d
           WHERE d.state = 'kept' AND d.id > a.id AND d.kind = replace(a.kind, '.create', '.drop')
             AND d.relation = a.relation AND d.evidence->>'index' = a.evidence->>'index'))`,
    )
    return { inFlight: Number(rows[0]?.in_flight ?? 0), storageBytes: Number(rows[0]?.storage_bytes ?? 0) }
  }

  /** The trail of one action, in order. */
  async auditTrail(actionId: string): Promise<ActionAuditEntry[]> {
    if (!/^\d{1,18}$/.test(actionId)) return []
    const { rows } = await this.pool.query<{
      seq: string
      action_id: string
      at: Date
      actor: string
      event: ActionAuditEntry['event']
      sql: string | null
      outcome: ActionAuditEntry['outcome']
      detail: Record<string, unknown>
    }>('SELECT * FROM cairn_meta.action_audit WHERE action_id = $1 ORDER BY seq', [actionId])
    return rows.map((r) => ({
      seq: Number(r.seq),
      actionId: String(r.action_id),
      at: r.at.getTime(),
      actor: r.actor,
      event: r.event,
      sql: r.sql,
      outcome: r.outcome,
      detail: r.detail,
    }))
  }
}
