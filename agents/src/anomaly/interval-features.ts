import type { Baseline, IntervalSummary } from './fingerprint-baselines.js'
import type { FingerprintInterval } from './interval-statistics.js'
import { quantile } from './quantile.js'

/** One fingerprint over one closed interval, and how it compares with what was expected of it. */
export interface IntervalFeatures {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly relationsRead: readonly string[]
  /** The interval, epoch milliseconds, `[start, end)`. */
  readonly start: number
  readonly end: number
  readonly executions: number
  readonly errors: number
  /** Executions per second of the interval. */
  readonly qps: number
  /** Latency percentiles of the statements that succeeded; null when none did. */
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  /** Rows per successful execution. */
  readonly meanRows: number | null
  /** Failed executions (those with a SQLSTATE) over all. */
  readonly errorRate: number
  /** The most frequent SQLSTATE of the failures. */
  readonly topSqlstate: string | null
  /** Result cache hits over lookups (hit, miss, bypass); null without lookups. */
  readonly cacheHitRate: number | null
  readonly cacheLookups: number
  /** The latency expected of it: the predictor's when one was given, else its baseline median. */
  readonly expectedMs: number | null
  readonly expectedFrom: 'prediction' | 'baseline' | null
  /** p50 over expected; null without an expectation or a success. */
  readonly latencyRatio: number | null
  /** p95 over the baseline p95. */
  readonly p95Ratio: number | null
  /** QPS over the baseline QPS. */
  readonly qpsRatio: number | null
  /** Rows per execution over the baseline's. */
  readonly rowsRatio: number | null
  /** Mean host CPU over the interval, percent, when a provider gave one. */
  readonly hostCpuPercent: number | null
}

export interface IntervalContext {
  readonly start: number
  readonly end: number
  readonly baseline: Baseline | null
  /** The latency predictor's estimate for the interval's sample statement, when there is one. */
  readonly predictedMs?: number | null
  readonly hostCpuPercent?: number | null
}

/** Turns one fingerprint's counters for an interval into features, relative to its baseline. */
export function intervalFeatures(f: FingerprintInterval, ctx: IntervalContext): IntervalFeatures {
  const seconds = (ctx.end - ctx.start) / 1000
  const p50Ms = quantile(f.durations, 0.5)
  const p95Ms = quantile(f.durations, 0.95)
  const meanRows = f.succeeded > 0 ? f.rows / f.succeeded : null
  const qps = f.executions / seconds
  const b = ctx.baseline
  const predicted = ctx.predictedMs !== undefined && ctx.predictedMs !== null && ctx.predictedMs > 0
  const expectedMs = predicted ? (ctx.predictedMs as number) : (b?.p50Ms ?? null)
  let topSqlstate: string | null = null
  let topCount = 0
  for (const [state, n] of f.sqlstates) if (n > topCount) [topSqlstate, topCount] = [state, n]
  return {
    fingerprint: f.fingerprint,
    normalizedText: f.normalizedText,
    relationsRead: f.relationsRead,
    start: ctx.start,
    end: ctx.end,
    executions: f.executions,
    errors: f.errors,
    qps,
    p50Ms,
    p95Ms,
    meanRows,
    errorRate: f.executions > 0 ? f.errors / f.executions : 0,
    topSqlstate,
    cacheHitRate: f.cacheLookups > 0 ? f.cacheHits / f.cacheLookups : null,
    cacheLookups: f.cacheLookups,
    expectedMs,
    expectedFrom: expectedMs === null ? null : predicted ? 'prediction' : 'baseline',
    latencyRatio: ratio(p50Ms, expectedMs),
    p95Ratio: ratio(p95Ms, b?.p95Ms ?? null),
    qpsRatio: b && b.qps > 0 ? qps / b.qps : null,
    rowsRatio:
      meanRows !== null && b?.meanRows !== null && b?.meanRows !== undefined ? (meanRows + 1) / (b.meanRows + 1) : null,
    hostCpuPercent: ctx.hostCpuPercent ?? null,
  }
}

/** What the baseline keeps of an interval. */
export function intervalSummary(x: IntervalFeatures): IntervalSummary {
  return {
    start: x.start,
    p50Ms: x.p50Ms,
    p95Ms: x.p95Ms,
    qps: x.qps,
    errorRate: x.errorRate,
    meanRows: x.meanRows,
    cacheHitRate: x.cacheHitRate,
  }
}

function ratio(value: number | null, expected: number | null): number | null {
  if (value === null || expected === null || !(expected > 0)) return null
  return value / expected
}
