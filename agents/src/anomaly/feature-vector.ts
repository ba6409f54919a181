import type { Baseline } from './fingerprint-baselines.js'
import type { IntervalFeatures } from './interval-features.js'

/** Log ratios are clipped here (2^8 = 256×): beyond it, more is not more anomalous. */
const LOG_CLIP = 8

/** Names of the vector's columns, in order (they go into the evidence). */
export const featureColumns = [
  'log2 latency ratio',
  'log2 p50 over usual high',
  'log2 p95 ratio',
  'log2 qps ratio',
  'error rate increase',
  'log2 rows ratio',
  'cache hit rate drop',
  'host cpu',
] as const

/**
 * The isolation forest's view of an interval. Every column is relative to the
 * fingerprint's own baseline (log-scaled ratios, rate differences), so one
 * forest compares fingerprints of very different speeds and volumes.
 */
export function featureVector(x: IntervalFeatures, b: Baseline): number[] {
  // A small additive term keeps sub-millisecond statements from producing huge ratios out of jitter.
  const latency = x.p50Ms !== null && x.expectedMs !== null ? logRatio(x.p50Ms + 0.1, x.expectedMs + 0.1) : 0
  const p95 = x.p95Ms !== null && b.p95Ms !== null ? logRatio(x.p95Ms + 0.1, b.p95Ms + 0.1) : 0
  const overHigh = x.p50Ms !== null && b.p50HighMs !== null ? logRatio(x.p50Ms + 0.1, b.p50HighMs + 0.1) : 0
  return [
    latency,
    overHigh,
    p95,
    logRatio(x.qps + 0.01, b.qps + 0.01),
    x.errorRate - b.errorRate,
    x.rowsRatio !== null ? clip(Math.log2(x.rowsRatio)) : 0,
    x.cacheHitRate !== null && b.cacheHitRate !== null ? b.cacheHitRate - x.cacheHitRate : 0,
    x.hostCpuPercent !== null ? x.hostCpuPercent / 100 : 0,
  ]
}

function logRatio(a: number, b: number): number {
  return clip(Math.log2(a / b))
}

function clip(v: number): number {
  return Math.max(-LOG_CLIP, Math.min(LOG_CLIP, v))
}
