import type { Logger, QueryEvent } from '@cairn/core'
import type { AgentFinding, AgentWorkers, MaybePromise, ReadOnlyDb } from '@cairn/plugins'
import { workerModule } from '../host/worker-module.js'
import { type AnomalyGateOptions, type AnomalySignal, anomalyGate, defaultGate } from './anomaly-gate.js'
import { describeAnomaly, type PlanComparison } from './describe-anomaly.js'
import { explainStatement, isExplainable } from './explain-statement.js'
import { featureColumns, featureVector } from './feature-vector.js'
import { type Baseline, FingerprintBaselines } from './fingerprint-baselines.js'
import type { HostCpu } from './host-cpu.js'
import { type IntervalFeatures, intervalFeatures, intervalSummary } from './interval-features.js'
import { type ClosedInterval, type FingerprintInterval, IntervalStatistics } from './interval-statistics.js'
import { PlanMemory } from './plan-memory.js'
import { describePlanChange } from './plan-shape.js'
import type { ScoreIntervalsInput } from './score-intervals.js'
import { type RuleCheck, type ThresholdRuleOptions, ThresholdRules } from './threshold-rules.js'

export interface AnomalyDetectorOptions {
  /** Length of an interval, milliseconds. Default 60 s. */
  intervalMs?: number
  /**
   * The latency expected of a statement (the latency predictor's), given the
   * interval's latest successful one; without it, or when it returns nothing,
   * the fingerprint's rolling baseline median is the expectation.
   */
  predictMs?: (event: QueryEvent) => MaybePromise<number | null | undefined>
  /** Host CPU per interval (e.g. `hostCpuFromSamples()`); a feature and part of the sentence. */
  hostCpu?: HostCpu
  /** Thresholds of the plain rules; `false` turns the rules off. */
  rules?: Partial<ThresholdRuleOptions> | false
  /** How different from baseline an interval must be, besides unusual for the forest. */
  gate?: Partial<AnomalyGateOptions>
  /** Isolation-forest score at or above which an interval is unusual. Default 0.6. */
  scoreThreshold?: number
  /** Intervals per fingerprint its baseline is the median of. Default 20. */
  baselineIntervals?: number
  /** Intervals a fingerprint needs before it is judged. Default 3. */
  minBaselineIntervals?: number
  /** Ordinary interval vectors the forest needs before it judges anything. Default 32. */
  minTrainingVectors?: number
  /** Ordinary interval vectors kept as the forest's history. Default 2048. */
  historySize?: number
  /** Trees per forest. Default 200. */
  trees?: number
  /** History vectors sampled to grow a forest. Default 256. */
  sampleSize?: number
  /** Fingerprints whose plan shape is remembered. Default 500. */
  maxPlans?: number
  /** EXPLAINs per evaluation, anomalies first, then baseline plans. Default 20. */
  maxExplainsPerEvaluation?: number
  /** A remembered plan is taken again, while the fingerprint is ordinary, once older than this. Default 1 h. */
  planMaxAgeMs?: number
  /** Fingerprints tracked (per interval, and with a baseline). Default 5000. */
  maxFingerprints?: number
  /** Called for every interval the forest scored, anomalous or not (for evaluations and debugging). */
  onScored?: (scored: ScoredInterval) => void
}

/** One (fingerprint, interval) as the forest and the gate saw it. */
export interface ScoredInterval {
  readonly features: IntervalFeatures
  readonly score: number
  readonly signals: readonly AnomalySignal[]
  readonly anomalous: boolean
}

/** What the detector needs from its agent context. */
export interface AnomalyDetectorDeps {
  readonly db: ReadOnlyDb
  readonly workers: AgentWorkers
  readonly log?: Logger
}

/** One fingerprint's interval as judged. */
interface Judged {
  readonly interval: FingerprintInterval
  readonly features: IntervalFeatures
  readonly baseline: Baseline | null
  readonly vector: number[] | null
  readonly signals: readonly AnomalySignal[]
  score: number | null
  anomalous: boolean
}

/**
 * The anomaly detector without its timer: `observe` accumulates events (cheap),
 * `evaluate(until)` closes the intervals that ended by then, scores them with an
 * isolation forest and the sanity gate, explains the anomalies (with the plan
 * change of a slowed statement), runs the threshold rules, and returns the
 * findings, a summary included. The agent calls it on a timer; the evaluation
 * calls it on a compressed clock.
 */
export class AnomalyDetector {
  readonly intervalMs: number
  readonly #deps: AnomalyDetectorDeps
  readonly #o: Required<Omit<AnomalyDetectorOptions, 'predictMs' | 'hostCpu' | 'rules' | 'gate' | 'onScored'>>
  readonly #predictMs: AnomalyDetectorOptions['predictMs']
  readonly #hostCpu: HostCpu | undefined
  readonly #onScored: AnomalyDetectorOptions['onScored']
  readonly #gate: AnomalyGateOptions
  readonly #rules: ThresholdRules | null
  readonly #statistics: IntervalStatistics
  readonly #baselines: FingerprintBaselines
  readonly #plans: PlanMemory
  /** Vectors of ordinary intervals, newest last: what the forest learns. */
  readonly #history: number[][] = []
  /** Start of the current run of anomalous intervals per fingerprint, and of its latest one. */
  readonly #streaks = new Map<string, { since: number; last: number }>()
  /** The last interval boundary evaluated. */
  #evaluatedUntil: number | null = null

  constructor(deps: AnomalyDetectorDeps, options: AnomalyDetectorOptions = {}) {
    const {
      intervalMs = 60_000,
      predictMs,
      hostCpu,
      rules = {},
      gate = {},
      scoreThreshold = 0.6,
      baselineIntervals = 20,
      minBaselineIntervals = 3,
      minTrainingVectors = 32,
      historySize = 2048,
      trees = 200,
      sampleSize = 256,
      maxPlans = 500,
      maxExplainsPerEvaluation = 20,
      planMaxAgeMs = 3_600_000,
      maxFingerprints = 5000,
      onScored,
    } = options
    this.#deps = deps
    this.intervalMs = intervalMs
    this.#o = {
      intervalMs,
      scoreThreshold,
      baselineIntervals,
      minBaselineIntervals,
      minTrainingVectors,
      historySize,
      trees,
      sampleSize,
      maxPlans,
      maxExplainsPerEvaluation,
      planMaxAgeMs,
      maxFingerprints,
    }
    this.#predictMs = predictMs
    this.#hostCpu = hostCpu
    this.#onScored = onScored
    this.#gate = { ...defaultGate, ...gate }
    this.#rules = rules === false ? null : new ThresholdRules(rules)
    this.#statistics = new IntervalStatistics({ intervalMs, maxFingerprints })
    this.#baselines = new FingerprintBaselines({
      window: baselineIntervals,
      minIntervals: minBaselineIntervals,
      maxFingerprints,
    })
    this.#plans = new PlanMemory(maxPlans)
  }

  /** Accumulates one event into its interval. O(1): safe to call from `onResult`. */
  observe(event: QueryEvent): void {
    this.#statistics.add(event)
  }

  /**
   * Evaluates every interval boundary passed since the previous call, up to
   * `until` (epoch milliseconds). Returns nothing when no boundary was passed;
   * otherwise the anomalies, the rule findings, and one `anomaly.summary`.
   */
  async evaluate(until: number): Promise<AgentFinding[]> {
    const boundary = this.#statistics.intervalStart(until)
    if (this.#evaluatedUntil !== null && boundary <= this.#evaluatedUntil) return []
    const closed = this.#statistics.closeUntil(boundary)
    const from = Math.min(this.#evaluatedUntil ?? boundary - this.intervalMs, closed[0]?.start ?? boundary)
    this.#evaluatedUntil = boundary
    let explainBudget = this.#o.maxExplainsPerEvaluation
    const anomalies: AgentFinding[] = []
    const judgedAll: Judged[] = []
    let forestNote: string | null = null
    for (const interval of closed) {
      const judged = await this.#judge(interval)
      judgedAll.push(...judged)
      const note = await this.#score(judged)
      if (note) forestNote = note
      for (const j of judged) {
        if (!j.anomalous) continue
        let plan: PlanComparison | undefined
        if (j.signals.includes('latency') && explainBudget > 0) {
          explainBudget--
          plan = await this.#comparePlan(j.interval)
        }
        anomalies.push(this.#finding(j, interval, plan))
      }
      for (const j of judged) {
        this.#baselines.record(j.features.fingerprint, intervalSummary(j.features))
        if (!j.anomalous) this.#streaks.delete(j.features.fingerprint)
      }
      explainBudget = await this.#rememberPlans(judged, interval.end, explainBudget)
    }
    const cache = closed.flatMap((c) => c.fingerprints)
    const rules = this.#rules
      ? await this.#rules.evaluate(this.#deps.db, {
          hits: cache.reduce((n, f) => n + f.cacheHits, 0),
          lookups: cache.reduce((n, f) => n + f.cacheLookups, 0),
        })
      : null
    const summary = this.#summary(from, boundary, closed, judgedAll, anomalies, rules?.checks ?? null, forestNote)
    return [...anomalies, ...(rules?.findings ?? []), summary]
  }

  async #judge(interval: ClosedInterval): Promise<Judged[]> {
    const cpu = this.#hostCpu
      ? await this.#hostCpu({ from: interval.start, to: interval.end }, this.#deps.db).catch((err: unknown) => {
          this.#deps.log?.warn({ err }, 'host CPU could not be read')
          return null
        })
      : null
    const judged: Judged[] = []
    for (const f of interval.fingerprints) {
      const baseline = this.#baselines.baseline(f.fingerprint)
      const predictedMs = baseline && f.sample ? await this.#predict(f.sample) : null
      const features = intervalFeatures(f, {
        start: interval.start,
        end: interval.end,
        baseline,
        predictedMs,
        hostCpuPercent: cpu,
      })
      judged.push({
        interval: f,
        features,
        baseline,
        vector: baseline ? featureVector(features, baseline) : null,
        signals: baseline ? anomalyGate(features, baseline, this.#gate) : [],
        score: null,
        anomalous: false,
      })
    }
    return judged
  }

  async #predict(event: QueryEvent): Promise<number | null> {
    if (!this.#predictMs) return null
    try {
      return (await this.#predictMs(event)) ?? null
    } catch (err) {
      this.#deps.log?.warn({ err, fingerprint: event.fingerprint }, 'latency prediction failed')
      return null
    }
  }

  /** Scores the judged intervals with the forest; returns why it could not, when it could not. */
  async #score(judged: Judged[]): Promise<string | null> {
    const candidates = judged.filter((j) => j.vector !== null)
    if (candidates.length === 0) return null
    if (this.#history.length < this.#o.minTrainingVectors) {
      this.#learn(candidates)
      return `the isolation forest is still learning (${this.#history.length} of ${this.#o.minTrainingVectors} ordinary intervals)`
    }
    const input: ScoreIntervalsInput = {
      training: this.#history,
      candidates: candidates.map((j) => j.vector as number[]),
      trees: this.#o.trees,
      sampleSize: this.#o.sampleSize,
    }
    let scores: number[]
    try {
      scores = await this.#deps.workers.run<number[]>({
        module: workerModule(import.meta.url, './score-intervals.js'),
        name: 'scoreIntervals',
        input,
      })
    } catch (err) {
      this.#deps.log?.warn({ err }, 'isolation forest scoring failed')
      return `the isolation forest could not score (${(err as Error).message})`
    }
    candidates.forEach((j, i) => {
      j.score = scores[i] ?? null
      j.anomalous = j.score !== null && j.score >= this.#o.scoreThreshold && j.signals.length > 0
      if (j.score !== null)
        this.#onScored?.({ features: j.features, score: j.score, signals: j.signals, anomalous: j.anomalous })
    })
    this.#learn(candidates.filter((j) => !j.anomalous))
    return null
  }

  /** Ordinary intervals join the forest's history; anomalies stay out of what it learns as normal. */
  #learn(ordinary: readonly Judged[]): void {
    for (const j of ordinary) if (j.vector) this.#history.push(j.vector)
    if (this.#history.length > this.#o.historySize) this.#history.splice(0, this.#history.length - this.#o.historySize)
  }

  async #comparePlan(f: FingerprintInterval): Promise<PlanComparison> {
    const before = this.#plans.get(f.fingerprint)?.shape ?? null
    if (!f.sample || !isExplainable(f.sample)) return { before, now: null, change: null }
    try {
      const now = await explainStatement(this.#deps.db, f.sample)
      return { before, now, change: before ? describePlanChange(before, now) : null }
    } catch (err) {
      return { before, now: null, change: null, error: (err as Error).message }
    }
  }

  /** Remembers the plan of fingerprints whose baseline has formed (or whose plan is old), while they are ordinary. */
  async #rememberPlans(judged: readonly Judged[], at: number, budget: number): Promise<number> {
    for (const j of judged) {
      if (budget <= 0) break
      const fp = j.features.fingerprint
      if (j.anomalous || this.#baselines.intervals(fp) < this.#o.minBaselineIntervals) continue
      const known = this.#plans.get(fp)
      if (known && at - known.takenAt < this.#o.planMaxAgeMs) continue
      const sample = j.interval.sample
      if (!sample || !isExplainable(sample)) {
        this.#plans.set(fp, { shape: null, takenAt: at })
        continue
      }
      budget--
      try {
        this.#plans.set(fp, { shape: await explainStatement(this.#deps.db, sample), takenAt: at })
      } catch (err) {
        this.#deps.log?.debug({ err, fingerprint: fp }, 'plan could not be explained')
        this.#plans.set(fp, { shape: null, takenAt: at })
      }
    }
    return budget
  }

  #finding(j: Judged, interval: ClosedInterval, plan: PlanComparison | undefined): AgentFinding {
    const x = j.features
    const b = j.baseline as Baseline
    const streak = this.#streaks.get(x.fingerprint)
    const since = streak && streak.last === interval.start - this.intervalMs ? streak.since : interval.start
    this.#streaks.set(x.fingerprint, { since, last: interval.start })
    if (this.#streaks.size > this.#o.maxFingerprints) {
      const oldest = this.#streaks.keys().next().value
      if (oldest !== undefined) this.#streaks.delete(oldest)
    }
    const severe = (x.latencyRatio ?? 0) >= 10 || x.errorRate >= 0.5
    return {
      kind: 'anomaly',
      severity: severe ? 'critical' : 'warning',
      reason: describeAnomaly({ features: x, baseline: b, signals: j.signals, since, ...(plan ? { plan } : {}) }),
      evidence: {
        fingerprint: x.fingerprint,
        normalizedText: x.normalizedText,
        interval: { start: interval.start, end: interval.end },
        since,
        signals: j.signals,
        score: j.score,
        scoreThreshold: this.#o.scoreThreshold,
        features: x,
        baseline: b,
        vector: Object.fromEntries(featureColumns.map((c, i) => [c, j.vector?.[i] ?? null])),
        ...(plan ? { plan } : {}),
      },
    }
  }

  #summary(
    from: number,
    to: number,
    closed: readonly ClosedInterval[],
    judged: readonly Judged[],
    anomalies: readonly AgentFinding[],
    rules: readonly RuleCheck[] | null,
    forestNote: string | null,
  ): AgentFinding {
    const window = `${clock(from, this.intervalMs)}–${clock(to, this.intervalMs)} UTC`
    const fingerprints = new Set(judged.map((j) => j.features.fingerprint)).size
    const scored = judged.filter((j) => j.score !== null)
    const forming = judged.filter((j) => j.baseline === null)
    const ordinaryButDifferent = scored.filter((j) => !j.anomalous && j.signals.length > 0)
    const unusualButClose = scored.filter((j) => !j.anomalous && (j.score ?? 0) >= this.#o.scoreThreshold)
    const firedRules = rules?.filter((r) => r.fired) ?? []
    const worstRatio = Math.max(0, ...judged.map((j) => j.features.latencyRatio ?? 0))
    const worstErrors = Math.max(0, ...judged.map((j) => j.features.errorRate))
    const scope =
      closed.length === 0
        ? `No statements completed in ${window}`
        : `Checked ${fingerprints} fingerprint${fingerprints === 1 ? '' : 's'} over ${closed.length} interval${closed.length === 1 ? '' : 's'} (${window}) against their baselines`
    const head = !rules
      ? `${scope} (threshold rules off)`
      : closed.length === 0
        ? `${scope}; checked ${rules.length} threshold rules`
        : `${scope}, and ${rules.length} threshold rules`
    let reason: string
    if (anomalies.length === 0 && firedRules.length === 0) {
      const why: string[] = []
      if (scored.length > 0)
        why.push(
          `${scored.length - ordinaryButDifferent.length - unusualButClose.length} interval${scored.length === 1 ? '' : 's'} stayed within their baselines (worst latency ${worstRatio.toFixed(1)}× expected, highest error rate ${(worstErrors * 100).toFixed(0)} %)`,
        )
      if (ordinaryButDifferent.length > 0)
        why.push(
          `${ordinaryButDifferent.length} differed from their baseline but looked ordinary to the isolation forest (score below ${this.#o.scoreThreshold})`,
        )
      if (unusualButClose.length > 0)
        why.push(
          `${unusualButClose.length} looked unusual to the forest but were not meaningfully worse than their baseline`,
        )
      if (forming.length > 0)
        why.push(`${forming.length} still forming a baseline (${this.#o.minBaselineIntervals} intervals needed)`)
      if (forestNote) why.push(forestNote)
      if (rules) why.push(`rules: ${rules.map((r) => r.detail).join('; ')}`)
      reason = `${head}: nothing found${why.length ? `. ${why.join('; ')}` : ''}`
    } else {
      const named = anomalies.map((a) => String((a.evidence as { fingerprint: string }).fingerprint).slice(0, 8))
      const parts: string[] = []
      if (anomalies.length > 0)
        parts.push(
          `${anomalies.length} anomal${anomalies.length === 1 ? 'y' : 'ies'} (${[...new Set(named)].join(', ')})`,
        )
      if (firedRules.length > 0)
        parts.push(
          `${firedRules.length} rule${firedRules.length === 1 ? '' : 's'} fired (${firedRules.map((r) => r.rule).join(', ')})`,
        )
      reason = `${head}: found ${parts.join(' and ')}`
      if (forestNote) reason += `; ${forestNote}`
    }
    return {
      kind: 'anomaly.summary',
      severity: 'info',
      reason,
      evidence: {
        window: { from, to },
        intervals: closed.map((c) => ({ start: c.start, end: c.end, fingerprints: c.fingerprints.length })),
        fingerprints,
        scored: scored.length,
        formingBaseline: forming.length,
        anomalies: anomalies.length,
        differentButOrdinary: ordinaryButDifferent.length,
        unusualButClose: unusualButClose.length,
        worstLatencyRatio: worstRatio,
        highestErrorRate: worstErrors,
        forestVectors: this.#history.length,
        forest: forestNote,
        rules,
        lateEvents: this.#statistics.lateEvents,
        droppedEvents: this.#statistics.droppedEvents,
      },
    }
  }
}

/** Time of day in UTC; with milliseconds when the interval is not a whole number of seconds. */
function clock(at: number, intervalMs: number): string {
  return new Date(at).toISOString().slice(11, intervalMs % 1000 === 0 ? 19 : 23)
}
