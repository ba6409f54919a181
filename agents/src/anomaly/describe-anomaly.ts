import { abbreviateStatement } from './abbreviate-statement.js'
import type { AnomalySignal } from './anomaly-gate.js'
import type { Baseline } from './fingerprint-baselines.js'
import type { IntervalFeatures } from './interval-features.js'
import { describePlan, type PlanShape } from './plan-shape.js'

/** What is known of the plan when a latency anomaly is explained. */
export interface PlanComparison {
  /** The shape remembered when the baseline formed. */
  readonly before: PlanShape | null
  /** The shape explained now. */
  readonly now: PlanShape | null
  /** `from Index Scan to Seq Scan on silver.orders`; null when unchanged or not comparable. */
  readonly change: string | null
  /** Why the statement could not be explained, when it could not. */
  readonly error?: string
}

export interface AnomalyDescription {
  readonly features: IntervalFeatures
  readonly baseline: Baseline
  readonly signals: readonly AnomalySignal[]
  /** Start of the first interval of the fingerprint's current run of anomalies. */
  readonly since: number
  readonly plan?: PlanComparison
}

/**
 * The sentence of an anomaly finding: "fingerprint 3f2a9c1e… (SELECT … FROM
 * silver.orders WHERE customer_id = $1) is 8.3× slower than expected (p50 41 ms
 * against its usual 4.9 ms) since 14:02:00 UTC; plan changed from Index Scan to
 * Seq Scan on silver.orders".
 */
export function describeAnomaly({ features: x, baseline: b, signals, since, plan }: AnomalyDescription): string {
  const parts: string[] = []
  for (const signal of signals) {
    if (signal === 'latency')
      parts.push(
        `is ${times(x.latencyRatio ?? 0)} slower than expected (p50 ${ms(x.p50Ms ?? 0)} against ${x.expectedFrom === 'prediction' ? 'a predicted' : 'its usual'} ${ms(x.expectedMs ?? 0)})`,
      )
    else if (signal === 'errors')
      parts.push(
        `fails ${pct(x.errorRate)} of its executions (${x.errors} of ${x.executions}${x.topSqlstate ? `, mostly SQLSTATE ${x.topSqlstate}` : ''}; usually ${pct(b.errorRate)})`,
      )
    else if (signal === 'load')
      parts.push(`runs ${times(x.qpsRatio ?? 0)} as often as usual (${rate(x.qps)} against ${rate(b.qps)})`)
    else if (signal === 'rows')
      parts.push(
        `returns ${times(x.rowsRatio ?? 0)} more rows than usual (${Math.round(x.meanRows ?? 0)} against ${Math.round(b.meanRows ?? 0)} per execution)`,
      )
    else if (signal === 'cache')
      parts.push(
        `hits the result cache ${pct(x.cacheHitRate ?? 0)} of the time against ${pct(b.cacheHitRate ?? 0)} usually`,
      )
  }
  let sentence = `fingerprint ${x.fingerprint.slice(0, 8)}… (${abbreviateStatement(x.normalizedText)}) ${list(parts)} since ${clock(since)}`
  if (plan) sentence += `; ${describePlanPart(plan)}`
  if (x.hostCpuPercent !== null) sentence += `; host CPU averaged ${x.hostCpuPercent.toFixed(0)} %`
  return sentence
}

function describePlanPart(plan: PlanComparison): string {
  if (plan.error) return `its plan could not be explained (${plan.error})`
  if (plan.change) return `plan changed ${plan.change}`
  if (!plan.before && plan.now) return `no earlier plan to compare with (it now uses ${describePlan(plan.now)})`
  if (plan.now)
    return `plan unchanged (${describePlan(plan.now)}), so the time goes elsewhere: locks, I/O, load or session settings`
  return 'its plan is not known (no statement text to explain)'
}

function list(parts: readonly string[]): string {
  if (parts.length <= 1) return parts[0] ?? 'differs from its baseline'
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`
}

function clock(at: number): string {
  return `${new Date(at).toISOString().slice(11, 19)} UTC`
}

function times(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`
}

function ms(v: number): string {
  return `${v < 1 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ms`
}

function rate(qps: number): string {
  return `${qps < 1 ? qps.toFixed(2) : qps.toFixed(1)}/s`
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)} %`
}
