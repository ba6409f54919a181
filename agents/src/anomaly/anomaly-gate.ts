import type { Baseline } from './fingerprint-baselines.js'
import type { IntervalFeatures } from './interval-features.js'

/** How an interval departs from its fingerprint's normal. */
export type AnomalySignal = 'latency' | 'errors' | 'load' | 'rows' | 'cache'

/** How different from its baseline an interval must be to count, whatever the forest says. */
export interface AnomalyGateOptions {
  /** p50 over expected. */
  minLatencyRatio: number
  /** …and that many milliseconds slower, so sub-millisecond jitter is never an anomaly… */
  minLatencyDeltaMs: number
  /** …and p50 this many times the slowest ordinary interval of the baseline (its 90th percentile p50). */
  minLatencyOverUsualHigh: number
  /** Successful executions needed in the interval to judge its latency. */
  minExecutions: number
  /** Error rate above the baseline's. */
  minErrorRateIncrease: number
  minErrors: number
  /** QPS over the baseline's… */
  minQpsRatio: number
  /** …and that many more statements per second. */
  minQpsDelta: number
  /** Rows per execution over the baseline's… */
  minRowsRatio: number
  /** …and that many more rows per execution. */
  minRowsDelta: number
  /** Result cache hit rate below the baseline's by at least this much. */
  minCacheHitDrop: number
}

export const defaultGate: AnomalyGateOptions = {
  minLatencyRatio: 2,
  minLatencyDeltaMs: 1,
  minLatencyOverUsualHigh: 1.5,
  minExecutions: 5,
  minErrorRateIncrease: 0.1,
  minErrors: 3,
  minQpsRatio: 3,
  minQpsDelta: 0.2,
  minRowsRatio: 10,
  minRowsDelta: 100,
  minCacheHitDrop: 0.3,
}

/**
 * The sanity gate beside the isolation forest: the signals on which the
 * interval is meaningfully worse than its baseline. The forest says "unusual";
 * this says "unusual in a way a person would care about", which keeps precision.
 */
export function anomalyGate(x: IntervalFeatures, b: Baseline, g: AnomalyGateOptions = defaultGate): AnomalySignal[] {
  const signals: AnomalySignal[] = []
  const succeeded = x.executions - x.errors
  if (
    x.latencyRatio !== null &&
    x.p50Ms !== null &&
    x.expectedMs !== null &&
    succeeded >= g.minExecutions &&
    x.latencyRatio >= g.minLatencyRatio &&
    x.p50Ms - x.expectedMs >= g.minLatencyDeltaMs &&
    (b.p50HighMs === null || x.p50Ms >= g.minLatencyOverUsualHigh * b.p50HighMs)
  )
    signals.push('latency')
  if (x.errors >= g.minErrors && x.errorRate - b.errorRate >= g.minErrorRateIncrease) signals.push('errors')
  if (x.qpsRatio !== null && x.qpsRatio >= g.minQpsRatio && x.qps - b.qps >= g.minQpsDelta) signals.push('load')
  if (
    x.rowsRatio !== null &&
    x.meanRows !== null &&
    b.meanRows !== null &&
    succeeded >= g.minExecutions &&
    x.rowsRatio >= g.minRowsRatio &&
    x.meanRows - b.meanRows >= g.minRowsDelta
  )
    signals.push('rows')
  if (
    x.cacheHitRate !== null &&
    b.cacheHitRate !== null &&
    x.cacheLookups >= g.minExecutions &&
    b.cacheHitRate - x.cacheHitRate >= g.minCacheHitDrop
  )
    signals.push('cache')
  return signals
}
