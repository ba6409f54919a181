import type { ProposedAction } from './proposed-action.js'

/**
 * recommended → approved → applying → verifying → kept | rolled_back, or
 * failed (the DDL or the verification could not run), or rejected (by a
 * person, or refused by the policy). A kept action can still be rolled back.
 */
export type ActionState =
  | 'recommended'
  | 'approved'
  | 'applying'
  | 'verifying'
  | 'kept'
  | 'rolled_back'
  | 'failed'
  | 'rejected'

export const actionStates: readonly ActionState[] = [
  'recommended',
  'approved',
  'applying',
  'verifying',
  'kept',
  'rolled_back',
  'failed',
  'rejected',
]

/** A proposed action as stored in `cairn_meta.actions`, with its life so far. */
export interface ActionRecord extends ProposedAction {
  readonly id: string
  readonly state: ActionState
  /** Why it is in its state: the verdict, the refusal, the error. */
  readonly stateReason: string | null
  /** Epoch ms. */
  readonly proposedAt: number
  readonly approvedAt: number | null
  readonly approvedBy: string | null
  readonly appliedAt: number | null
  readonly verifiedAt: number | null
  readonly finishedAt: number | null
  readonly updatedAt: number
  readonly measuredBenefitMs: number | null
  readonly measuredSizeBytes: number | null
  /** The verification's numbers, or `{ refused }` when the policy refused it. */
  readonly verdict: Record<string, unknown> | null
}

/** One row of the audit trail: a step before (`started`) or after (`ok`, `error`) it ran. */
export interface ActionAuditEntry {
  readonly seq: number
  readonly actionId: string
  /** Epoch ms. */
  readonly at: number
  readonly actor: string
  readonly event: ActionAuditEvent
  readonly sql: string | null
  readonly outcome: 'started' | 'ok' | 'error' | 'skipped'
  readonly detail: Record<string, unknown>
}

export type ActionAuditEvent =
  | 'proposed'
  | 'approved'
  | 'rejected'
  | 'deferred'
  | 'baseline.start'
  | 'baseline.end'
  | 'apply.start'
  | 'apply.end'
  | 'verify.start'
  | 'verify.end'
  | 'rollback.start'
  | 'rollback.end'
  | 'cleanup.start'
  | 'cleanup.end'
  | 'kept'
  | 'failed'
