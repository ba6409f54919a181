import type { MaybePromise } from '@cairn/plugins'
import { type ActionVerdict, retryDecision } from '../actuator/retry-rule.js'
import { type AnalyzeIndexesInput, analyzeIndexes, type IndexAnalysis } from './analyze-indexes.js'
import type { IndexRecommendation, IndexRejection } from './index-recommendation.js'

/** A latency model's estimate for one plan, ms per call (the latency predictor, when it is running). */
export type PredictMs = (plan: unknown, statement: { fingerprint: string; meanMs: number }) => MaybePromise<number>

export interface IndexAdvisorOptions
  extends Omit<AnalyzeIndexesInput, 'databaseUrl' | 'excluded' | 'excludedDrops' | 'withPlans'> {
  /** The last verdict on a candidate key (the actuator's): a rolled-back candidate is not recommended again until its cool-down passed. */
  verdictFor?: (key: string) => MaybePromise<ActionVerdict | undefined>
  /** Refines predicted benefits: ms per call before and after, from each statement's plans. */
  predictMs?: PredictMs
}

export interface AdviseIndexesOptions extends IndexAdvisorOptions {
  databaseUrl: string
  /** Runs the analysis; default in-process. The agent passes its worker pool. */
  run?: (input: AnalyzeIndexesInput) => Promise<IndexAnalysis>
}

export interface IndexAdvice extends IndexAnalysis {
  readonly recommendations: IndexRecommendation[]
  readonly rejected: IndexRejection[]
}

/** Rounds of re-selection when past verdicts rule out what was selected. */
const MAX_ROUNDS = 4

/**
 * Index advice for a database: the analysis (`analyzeIndexes`), with past
 * verdicts applied (a candidate rolled back or rejected lately is excluded,
 * with the verdict as its reason, and the selection re-run so something else
 * may take its place) and predicted benefits refined by `predictMs` when
 * given. What `cairn advise` calls; the agent calls it with its worker pool.
 */
export async function adviseIndexes({
  run = analyzeIndexes,
  verdictFor,
  predictMs,
  ...input
}: AdviseIndexesOptions): Promise<IndexAdvice> {
  const now = input.now ?? Date.now()
  const excluded: Record<string, string> = {}
  const excludedDrops: Record<string, string> = {}
  let analysis = await run({ ...input, now, withPlans: predictMs !== undefined })
  for (let round = 1; verdictFor && round <= MAX_ROUNDS; round++) {
    let rerun = false
    for (const r of analysis.recommendations) {
      const verdict = await verdictFor(r.key)
      if (!verdict) continue
      const decision = retryDecision(verdict, r.predictedBenefitMs, now)
      if (decision.retry) continue
      const reason = verdictReason(verdict, decision.why)
      if (r.kind === 'index.create') {
        excluded[r.key] = reason
        rerun = true
      } else excludedDrops[r.key] = reason
    }
    if (!rerun || round === MAX_ROUNDS) {
      // Drops are independent of each other: the ruled-out ones are set aside without a new run.
      const rejected = analysis.recommendations.filter((r) => excludedDrops[r.key] || excluded[r.key])
      analysis = {
        ...analysis,
        recommendations: analysis.recommendations.filter((r) => !excludedDrops[r.key] && !excluded[r.key]),
        rejected: [
          ...analysis.rejected,
          ...rejected.map((r) => ({
            kind: r.kind,
            key: r.key,
            relation: r.relation,
            index: String(r.evidence.index ?? r.key),
            reason: excludedDrops[r.key] ?? excluded[r.key] ?? '',
          })),
        ],
      }
      break
    }
    analysis = await run({ ...input, now, excluded, excludedDrops, withPlans: predictMs !== undefined })
  }
  return predictMs ? await refine(analysis, predictMs) : analysis
}

/** `rolled back on 2026-11-25: measured 2 % slower (it may be proposed again after 7.0 days, …)`. */
function verdictReason(verdict: ActionVerdict, why: string): string {
  const when = new Date(verdict.decidedAt).toISOString().slice(0, 10)
  const later = why.replace(/^it was [^;]*; /, '')
  return `${verdict.verdict.replace('_', ' ')} on ${when}: ${verdict.reason} (${later})`
}

/** Predicted benefit from a latency model: per statement, calls per hour times the predicted ms saved per call. */
async function refine(analysis: IndexAnalysis, predictMs: PredictMs): Promise<IndexAnalysis> {
  const recommendations: IndexRecommendation[] = []
  for (const r of analysis.recommendations) {
    const plans = analysis.plans.filter((p) => p.key === r.key)
    if (r.kind !== 'index.create' || plans.length === 0) {
      recommendations.push(r)
      continue
    }
    try {
      let saved = 0
      for (const p of plans) {
        const statement = { fingerprint: p.fingerprint, meanMs: p.meanMs }
        const before = await predictMs(p.before, statement)
        const after = await predictMs(p.after, statement)
        saved += p.callsPerHour * (before - after)
      }
      const upkeep = Number(r.evidence.upkeepMsPerHour ?? 0)
      recommendations.push({
        ...r,
        predictedBenefitMs: saved - upkeep,
        evidence: { ...r.evidence, predictedBy: 'latency model', costRatioBenefitMs: r.predictedBenefitMs },
      })
    } catch (err) {
      recommendations.push({
        ...r,
        evidence: { ...r.evidence, predictedBy: 'cost ratio', latencyModelError: (err as Error).message },
      })
    }
  }
  return { ...analysis, recommendations }
}
