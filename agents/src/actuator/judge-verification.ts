import { seededRandom } from '../seeded-random.js'
import { mannWhitneyU } from './mann-whitney-u.js'

/** One affected fingerprint's replayed latencies, before and after the change (milliseconds). */
export interface FingerprintSamples {
  readonly fingerprint: string
  /** Its executions in the recent window: its weight in the workload. */
  readonly executions: number
  /** Its executions per hour: turns a per-execution saving into the measured benefit. */
  readonly perHour: number
  readonly before: readonly number[]
  readonly after: readonly number[]
  /** Replays that failed; a statement that ran before and fails after is a regression. */
  readonly errorsBefore: number
  readonly errorsAfter: number
  readonly firstErrorAfter?: string
}

export interface JudgeVerificationInput {
  readonly fingerprints: readonly FingerprintSamples[]
  /** Least improvement of the weighted workload to keep the change (0.05 = 5 %). */
  readonly minImprovement: number
  /** Largest slowdown of any one fingerprint tolerated (0.10 = 10 %). */
  readonly maxRegression: number
  /** Significance level of the tests. */
  readonly alpha: number
  /** Bootstrap resamples of the weighted ratio. */
  readonly resamples: number
  readonly seed: number
  readonly predictedBenefitMs?: number | null
}

export interface FingerprintJudgement {
  readonly fingerprint: string
  readonly executions: number
  readonly samplesBefore: number
  readonly samplesAfter: number
  readonly medianBeforeMs: number | null
  readonly medianAfterMs: number | null
  /** Median after / median before. */
  readonly ratio: number | null
  /** Mann-Whitney one-sided p-values: after slower than before, after faster than before. */
  readonly pSlower: number | null
  readonly pFaster: number | null
  readonly regressed: boolean
  /** Why it counts as regressed: slower, or failing where it ran before. */
  readonly regression?: string
}

export interface VerificationVerdict {
  readonly keep: boolean
  /** A sentence with the numbers. */
  readonly reason: string
  /** Σ weight × median after / Σ weight × median before; null when nothing could be compared. */
  readonly weightedRatio: number | null
  /** 1 − weightedRatio. */
  readonly improvement: number | null
  /** Bootstrap interval of the weighted ratio, its alpha and 1 − alpha quantiles: each end a one-sided (1 − alpha) bound. */
  readonly interval: readonly [number, number] | null
  /** Workload time saved, milliseconds per hour, as measured. */
  readonly measuredBenefitMs: number | null
  readonly predictedBenefitMs: number | null
  readonly fingerprints: readonly FingerprintJudgement[]
  /** A vacuum or analyze of the table ran between the baseline and the last replay. */
  readonly disturbed?: boolean
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function resample(values: readonly number[], random: () => number): number[] {
  return values.map(() => values[Math.floor(random() * values.length)] as number)
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo)
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const ms = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3))

function judgeFingerprint(f: FingerprintSamples, maxRegression: number, alpha: number): FingerprintJudgement {
  const base = {
    fingerprint: f.fingerprint,
    executions: f.executions,
    samplesBefore: f.before.length,
    samplesAfter: f.after.length,
  }
  const broken =
    f.errorsAfter > f.errorsBefore
      ? `fails after the change (${f.errorsAfter} of its replays${f.firstErrorAfter ? `: ${f.firstErrorAfter}` : ''})`
      : undefined
  if (f.before.length === 0 || f.after.length === 0)
    return {
      ...base,
      medianBeforeMs: f.before.length > 0 ? median(f.before) : null,
      medianAfterMs: f.after.length > 0 ? median(f.after) : null,
      ratio: null,
      pSlower: null,
      pFaster: null,
      regressed: broken !== undefined,
      ...(broken ? { regression: broken } : {}),
    }
  const medianBeforeMs = median(f.before)
  const medianAfterMs = median(f.after)
  const ratio = medianBeforeMs > 0 ? medianAfterMs / medianBeforeMs : 1
  const test = mannWhitneyU(f.after, f.before)
  const slower = ratio > 1 + maxRegression && test.pGreater < alpha
  const regression =
    broken ??
    (slower
      ? `${pct(ratio - 1)} slower (median ${ms(medianBeforeMs)} → ${ms(medianAfterMs)} ms, p=${test.pGreater.toPrecision(2)})`
      : undefined)
  return {
    ...base,
    medianBeforeMs,
    medianAfterMs,
    ratio,
    pSlower: test.pGreater,
    pFaster: test.pLess,
    regressed: regression !== undefined,
    ...(regression ? { regression } : {}),
  }
}

/**
 * Decides whether a change pays, from replayed latencies before and after it.
 *
 * The workload is each affected fingerprint's median latency weighted by its
 * frequency in the recent events; the change is kept when
 *  1. the weighted workload time improved by at least `minImprovement`
 *     (point estimate: 1 − Σ w·median_after / Σ w·median_before), and
 *  2. that improvement is significant: the one-sided (1 − alpha) upper bound of
 *     a bootstrap interval of the weighted ratio (each fingerprint's before and
 *     after samples resampled independently, `resamples` times, seeded) is
 *     below 1, and
 *  (with `minImprovement` 0 or less, for changes made for other reasons than
 *  speed, such as dropping an unused index, 1 and 2 become: the workload is not
 *  significantly slower by more than `maxRegression`, i.e. the lower bound of
 *  the interval stays within 1 + maxRegression), and
 *  3. no affected fingerprint regressed: slower by more than `maxRegression` in
 *     its median AND significantly slower by a one-sided Mann-Whitney U test at
 *     `alpha`, or failing where it ran before.
 * Medians and rank tests because a small, shared machine gives latencies with
 * long, irregular tails: means and t-tests would follow the outliers.
 */
export function judgeVerification(input: JudgeVerificationInput): VerificationVerdict {
  const { minImprovement, maxRegression, alpha } = input
  const predictedBenefitMs = input.predictedBenefitMs ?? null
  const fingerprints = input.fingerprints.map((f) => judgeFingerprint(f, maxRegression, alpha))
  const regressions = fingerprints.filter((f) => f.regressed)
  const compared = input.fingerprints.filter((f) => f.before.length > 0 && f.after.length > 0)
  const weight = (f: FingerprintSamples) => Math.max(1, f.executions)
  if (compared.length === 0) {
    const reason =
      regressions.length > 0
        ? `nothing could be compared, and ${regressions.map((r) => `${r.fingerprint} ${r.regression}`).join('; ')}`
        : 'nothing could be measured: no replayed statement ran both before and after the change'
    return {
      keep: false,
      reason: `${reason[0]?.toUpperCase()}${reason.slice(1)}.`,
      weightedRatio: null,
      improvement: null,
      interval: null,
      measuredBenefitMs: null,
      predictedBenefitMs,
      fingerprints,
    }
  }
  const weighted = (pick: (f: FingerprintSamples) => number) =>
    compared.reduce((sum, f) => sum + weight(f) * pick(f), 0)
  const before = weighted((f) => median(f.before))
  const after = weighted((f) => median(f.after))
  const weightedRatio = before > 0 ? after / before : 1
  const improvement = 1 - weightedRatio
  const random = seededRandom(input.seed)
  const ratios: number[] = []
  for (let r = 0; r < input.resamples; r++) {
    let b = 0
    let a = 0
    for (const f of compared) {
      b += weight(f) * median(resample(f.before, random))
      a += weight(f) * median(resample(f.after, random))
    }
    ratios.push(b > 0 ? a / b : 1)
  }
  ratios.sort((x, y) => x - y)
  const interval: [number, number] =
    ratios.length > 0 ? [quantile(ratios, alpha), quantile(ratios, 1 - alpha)] : [weightedRatio, weightedRatio]
  const measuredBenefitMs = compared.reduce((sum, f) => sum + f.perHour * (median(f.before) - median(f.after)), 0)
  // A change kept for speed must be significantly faster; one kept for other reasons (minImprovement <= 0,
  // e.g. dropping an unused index) only must not be significantly slower overall.
  const speedNeeded = minImprovement > 0
  const enough = speedNeeded ? improvement >= minImprovement : true
  const significant = speedNeeded ? interval[1] < 1 : interval[0] <= 1 + maxRegression
  const keep = enough && significant && regressions.length === 0

  const change = improvement >= 0 ? `${pct(improvement)} faster` : `${pct(-improvement)} slower`
  const numbers = `weighted time after/before ${weightedRatio.toFixed(3)}, ${pct(1 - 2 * alpha)} bootstrap interval ${interval[0].toFixed(3)}–${interval[1].toFixed(3)} over ${compared.length} fingerprint${compared.length === 1 ? '' : 's'}`
  const benefit = `measured benefit ${ms(measuredBenefitMs)} ms/h${predictedBenefitMs === null ? '' : ` against ${ms(predictedBenefitMs)} ms/h predicted`}`
  const why: string[] = []
  if (!enough) why.push(`it did not improve by the required ${pct(minImprovement)}`)
  else if (!significant)
    why.push(
      speedNeeded
        ? `the improvement is within the noise (upper bound ${interval[1].toFixed(3)})`
        : `the workload got slower by more than ${pct(maxRegression)} (lower bound ${interval[0].toFixed(3)})`,
    )
  if (regressions.length > 0)
    why.push(
      `${regressions.length} fingerprint${regressions.length === 1 ? '' : 's'} regressed: ${regressions
        .slice(0, 3)
        .map((r) => `${r.fingerprint} ${r.regression}`)
        .join('; ')}`,
    )
  const reason = keep
    ? `The affected workload got ${change} (${numbers}); ${benefit}; no affected statement got slower.`
    : `The affected workload got ${change} (${numbers}); ${benefit}; not kept because ${why.join(', and ')}.`
  return {
    keep,
    reason,
    weightedRatio,
    improvement,
    interval,
    measuredBenefitMs,
    predictedBenefitMs,
    fingerprints,
  }
}
