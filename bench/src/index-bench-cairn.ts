import { type ActionRecord, Actuator, adviseIndexes } from '@cairn/agents'
import type pg from 'pg'
import { progress } from './bench-settings.js'

export interface CairnLoopOptions {
  /** The warehouse, directly (the advisor's analysis opens its own read-only connection). */
  databaseUrl: string
  /** Writable, without a statement timeout: the actuator's tables, its DDL and its replays. */
  pool: pg.Pool
  budgetBytes: number
  /** The loop starts no new round, and proposes nothing more, after this (epoch ms). */
  deadline: number
  /** Of each replayed statement during verification. */
  replayStatementTimeoutMs: number
}

export interface CairnRound {
  round: number
  adviseMs: number
  /** The advisor's sentence on what it considered and recommends. */
  summary: string
  proposals: { key: string; kind: string; outcome: string; reason: string }[]
}

/** One action of the actuator as the report shows it. */
export interface CairnAction {
  id: string
  kind: string
  key: string
  relation: string
  apply: string
  state: string
  /** Why it is in its state: the verification's verdict, the refusal or the error. */
  reason: string | null
  predictedBenefitMsPerHour: number | null
  measuredBenefitMsPerHour: number | null
  sizeBytes: number | null
  measuredSizeBytes: number | null
  weightedRatio: number | null
  /** Proposal to verdict, ms. */
  durationMs: number | null
}

export interface CairnLoopResult {
  rounds: CairnRound[]
  loopMs: number
  stoppedBecause: string
  actions: CairnAction[]
}

/**
 * Cairn's loop, as the index advisor and the actuator run it, in rounds: the
 * advisor analyses the workload in cairn_meta.query_events (HypoPG what-if
 * costing, selection under the storage budget, past verdicts applied); each
 * recommendation goes to the actuator, whose policy applies it (`auto`), and
 * which verifies it by replaying the affected statements before and after and
 * keeps it or rolls it back. Rounds go on until a round stores nothing new or
 * the deadline passed.
 */
export async function runCairnLoop(o: CairnLoopOptions): Promise<CairnLoopResult> {
  const actuator = new Actuator({
    pool: o.pool,
    policy: {
      modes: { 'index.create': 'auto', 'index.drop': 'auto' },
      storageBudgetBytes: o.budgetBytes,
    },
    replay: { statementTimeoutMs: o.replayStatementTimeoutMs },
  })
  const started = Date.now()
  const rounds: CairnRound[] = []
  let stoppedBecause = ''
  for (let round = 1; ; round++) {
    if (Date.now() >= o.deadline) {
      stoppedBecause = 'the time limit was reached'
      break
    }
    const t0 = performance.now()
    const advice = await adviseIndexes({
      databaseUrl: o.databaseUrl,
      storageBudgetBytes: o.budgetBytes,
      verdictFor: (key) => actuator.verdictFor(key),
    })
    const current: CairnRound = { round, adviseMs: performance.now() - t0, summary: advice.summary, proposals: [] }
    rounds.push(current)
    progress(`Cairn round ${round}: ${advice.summary}`)
    let stored = 0
    for (const recommendation of advice.recommendations) {
      if (Date.now() >= o.deadline) break
      const proposed = await actuator.propose(recommendation)
      current.proposals.push({
        key: recommendation.key,
        kind: recommendation.kind,
        outcome: proposed.outcome,
        reason: proposed.reason,
      })
      // A refusal by the policy (the storage budget) is stored too, as rejected: nothing to apply.
      if (proposed.outcome !== 'stored' || proposed.action?.state !== 'approved') continue
      stored++
      // One change at a time, as the actuator's agent applies them on its poll.
      for (const outcome of await actuator.processApproved())
        progress(`Cairn: ${outcome.action?.key ?? recommendation.key}: ${outcome.reason}`)
    }
    if (stored === 0) {
      stoppedBecause = whyStopped(o.deadline, advice.recommendations.length, current)
      break
    }
  }
  const actions = (await actuator.list({ since: started - 1000, limit: 1000 })).reverse().map(describeAction)
  return { rounds, loopMs: Date.now() - started, stoppedBecause, actions }
}

function whyStopped(deadline: number, recommended: number, round: CairnRound): string {
  if (Date.now() >= deadline) return 'the time limit was reached'
  if (recommended === 0) return 'the advisor recommended nothing more'
  const refused = round.proposals.filter((p) => p.outcome === 'stored').length
  if (refused > 0)
    return `the actuator's policy refused what the advisor still recommended (${refused} proposal${refused === 1 ? '' : 's'}: ${round.proposals.find((p) => p.outcome === 'stored')?.reason})`
  return 'the advisor recommended nothing new (only what was proposed before, or held back by past verdicts)'
}

const numberOrNull = (value: unknown): number | null => (typeof value === 'number' ? value : null)

function describeAction(a: ActionRecord): CairnAction {
  return {
    id: a.id,
    kind: a.kind,
    key: a.key,
    relation: a.relation,
    apply: a.apply.sql,
    state: a.state,
    reason: a.stateReason,
    predictedBenefitMsPerHour: a.predictedBenefitMs ?? null,
    measuredBenefitMsPerHour: a.measuredBenefitMs,
    sizeBytes: a.sizeBytes ?? null,
    measuredSizeBytes: a.measuredSizeBytes,
    weightedRatio: numberOrNull(a.verdict?.weightedRatio),
    durationMs: a.finishedAt === null ? null : a.finishedAt - a.proposedAt,
  }
}
