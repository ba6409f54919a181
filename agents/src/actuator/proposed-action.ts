/** One piece of DDL the actuator runs, forward or back. */
export interface ActionStatement {
  /** The statement, identifiers already quoted (the proposer builds it with `escapeIdentifier`/`format('%I')`). */
  sql: string
  /** True for `CREATE/DROP INDEX CONCURRENTLY` and the like: run outside a transaction. */
  concurrently: boolean
}

/**
 * A change an advisor proposes to the actuator. Immutable once proposed; the
 * actuator stores it, applies it under its policy, verifies it by replaying the
 * affected statements, and keeps it or rolls it back.
 */
export interface ProposedAction {
  /** `index.create` | `index.drop` (later `mview.create`, `setting.set`, ...): policies are per kind. */
  kind: string
  /**
   * Stable identity of the candidate across proposals, e.g.
   * `index.create:silver.orders(customer_id) where status = 'paid'`: verdicts are remembered per key.
   */
  key: string
  /** The table it changes, schema-qualified (`silver.orders`): one change at a time per table. */
  relation: string
  /** Forward DDL. */
  apply: ActionStatement
  /** Its inverse, run when verification does not keep the change. */
  rollback: ActionStatement
  /** A sentence a person can read: why this change. */
  reason: string
  evidence: Record<string, unknown>
  /** Predicted workload time saved, in milliseconds per hour. */
  predictedBenefitMs?: number
  /** Estimated on-disk size of what the change creates (storage budget). */
  sizeBytes?: number
  /** Fingerprints of `cairn_meta.query_events` whose statements verification replays. */
  affectedFingerprints: string[]
  /** The advisor's name. */
  source: string
}
