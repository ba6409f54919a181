/** The last verdict on a candidate key, as stored in `cairn_meta.action_verdicts`. */
export interface ActionVerdict {
  readonly key: string
  readonly actionId: string
  readonly kind: string
  readonly relation: string
  readonly verdict: 'kept' | 'rolled_back' | 'failed' | 'rejected'
  readonly reason: string
  readonly predictedBenefitMs: number | null
  readonly measuredBenefitMs: number | null
  readonly weightedRatio: number | null
  /** How many times the key reached a verdict. */
  readonly attempts: number
  /** Epoch ms. */
  readonly decidedAt: number
  readonly details: Record<string, unknown>
}

export interface RetryRule {
  /** How long a rolled-back or rejected key waits before it may be proposed again. Default 7 days. */
  readonly coolDownMs: number
  /** How long a failed key waits (a failure is often transient: a lock timeout). Default 1 day. */
  readonly failedCoolDownMs: number
  /**
   * The evidence changed materially when the new predicted benefit is at least this many times the
   * one the verdict was made on. Default 2.
   */
  readonly materialChangeFactor: number
}

export const defaultRetryRule: RetryRule = {
  coolDownMs: 7 * 86_400_000,
  failedCoolDownMs: 86_400_000,
  materialChangeFactor: 2,
}

export type RetryDecision =
  | { readonly retry: true; readonly why: string }
  | { readonly retry: false; readonly why: string }

/**
 * Whether a candidate with a past verdict may be proposed again. A rolled-back,
 * failed or rejected key is not retried blindly: only once its cool-down has
 * passed (longer after each attempt: the cool-down times the attempts), or
 * sooner when its evidence changed materially, meaning the advisor now predicts
 * at least `materialChangeFactor` times the benefit the verdict was made on (a
 * predicted benefit where there was none counts as material). A kept key is
 * never re-proposed while the change is in place (the live action stops that).
 */
export function retryDecision(
  verdict: ActionVerdict,
  predictedBenefitMs: number | undefined,
  nowMs: number,
  rule: RetryRule = defaultRetryRule,
): RetryDecision {
  if (verdict.verdict === 'kept') return { retry: true, why: 'the last verdict kept it' }
  const base = verdict.verdict === 'failed' ? rule.failedCoolDownMs : rule.coolDownMs
  const coolDown = base * Math.max(1, verdict.attempts)
  const waited = nowMs - verdict.decidedAt
  if (waited >= coolDown) return { retry: true, why: `its cool-down of ${hours(coolDown)} has passed` }
  const before = verdict.predictedBenefitMs
  if (predictedBenefitMs !== undefined && predictedBenefitMs > 0) {
    if (before === null || before <= 0)
      return { retry: true, why: 'it now has a predicted benefit where the verdict had none' }
    if (predictedBenefitMs >= rule.materialChangeFactor * before)
      return {
        retry: true,
        why: `its predicted benefit grew from ${before.toFixed(0)} to ${predictedBenefitMs.toFixed(0)} ms/h`,
      }
  }
  const label = verdict.verdict.replace('_', ' ')
  return {
    retry: false,
    why: `it was ${label} ${hours(waited)} ago; it may be proposed again after ${hours(coolDown)}, or sooner if its predicted benefit reaches ${rule.materialChangeFactor}× ${(before ?? 0).toFixed(0)} ms/h`,
  }
}

function hours(msValue: number): string {
  const h = msValue / 3_600_000
  return h >= 48
    ? `${(h / 24).toFixed(1)} days`
    : h >= 1
      ? `${h.toFixed(1)} h`
      : `${Math.max(0, msValue / 60_000).toFixed(0)} min`
}
