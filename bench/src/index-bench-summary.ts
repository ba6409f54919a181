import type { SecondaryIndex } from './index-bench-indexes.js'
import type { WorkloadPass } from './index-bench-workload.js'

/** A template more than the threshold slower after a contender's indexes than before. */
export interface Regression {
  template: string
  calls: number
  beforeMs: number
  afterMs: number
  /** After over before. */
  ratio: number
  /** The contender's indexes the template's plans use now; none: it runs the plan it ran before. Null: not explained. */
  planIndexes?: string[] | null
}

export interface TemplateComparison {
  template: string
  calls: number
  beforeMs: number
  afterMs: number
  failuresBefore: number
  failuresAfter: number
}

export interface ContenderSummary {
  name: string
  beforeMs: number
  afterMs: number
  /** Before over after: how many times faster the workload ran with the contender's indexes. */
  speedup: number
  indexes: number
  storageBytes: number
  failuresBefore: number
  failuresAfter: number
  regressions: Regression[]
  templates: TemplateComparison[]
}

export interface GoalResult {
  goal: string
  met: boolean
  detail: string
}

/** Share slower than before that makes a template a regression. */
export const REGRESSION_THRESHOLD = 0.1
export const TARGET_SPEEDUP = 5

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '∞×')

/**
 * A contender's before and after passes compared, in total and per template
 * (the same statements in both), with the indexes it left in place.
 */
export function summarizeContender(
  name: string,
  before: WorkloadPass,
  after: WorkloadPass,
  indexes: readonly SecondaryIndex[],
  threshold = REGRESSION_THRESHOLD,
): ContenderSummary {
  const afterByName = new Map(after.templates.map((t) => [t.name, t]))
  const templates: TemplateComparison[] = before.templates
    .filter((t) => t.calls > 0)
    .map((b) => {
      const a = afterByName.get(b.name)
      return {
        template: b.name,
        calls: b.calls,
        beforeMs: b.totalMs,
        afterMs: a?.totalMs ?? 0,
        failuresBefore: b.failures,
        failuresAfter: a?.failures ?? 0,
      }
    })
  const regressions = templates
    .filter((t) => t.afterMs > t.beforeMs * (1 + threshold))
    .map((t) => ({
      template: t.template,
      calls: t.calls,
      beforeMs: t.beforeMs,
      afterMs: t.afterMs,
      ratio: t.beforeMs > 0 ? t.afterMs / t.beforeMs : Number.POSITIVE_INFINITY,
    }))
    .sort((a, b) => b.afterMs - b.beforeMs - (a.afterMs - a.beforeMs))
  return {
    name,
    beforeMs: before.totalMs,
    afterMs: after.totalMs,
    speedup: after.totalMs > 0 ? before.totalMs / after.totalMs : Number.POSITIVE_INFINITY,
    indexes: indexes.length,
    storageBytes: indexes.reduce((sum, i) => sum + i.bytes, 0),
    failuresBefore: before.failures,
    failuresAfter: after.failures,
    regressions,
    templates,
  }
}

/**
 * The goals, each met or not with the numbers that decide it: Cairn at least
 * `target`× faster; better than each baseline — a larger speed-up and a
 * shorter workload after — with no more storage; no regression left in place.
 */
export function evaluateGoals(
  cairn: ContenderSummary,
  baselines: readonly ContenderSummary[],
  target = TARGET_SPEEDUP,
): GoalResult[] {
  const goals: GoalResult[] = [
    {
      goal: `Cairn cuts the total workload time at least ${target}×`,
      met: cairn.speedup >= target,
      detail: `${seconds(cairn.beforeMs)} → ${seconds(cairn.afterMs)}: ${times(cairn.speedup)}`,
    },
  ]
  for (const b of baselines) {
    const faster = cairn.speedup > b.speedup
    const shorter = cairn.afterMs < b.afterMs
    const smaller = cairn.storageBytes <= b.storageBytes
    goals.push({
      goal: `Cairn better than ${b.name} at equal or lower storage`,
      met: faster && shorter && smaller,
      detail:
        `speed-up ${times(cairn.speedup)} against ${times(b.speedup)} (${faster ? 'larger' : 'not larger'}); ` +
        `after ${seconds(cairn.afterMs)} against ${seconds(b.afterMs)} (${shorter ? 'shorter' : 'not shorter'}); ` +
        `storage ${mib(cairn.storageBytes)} against ${mib(b.storageBytes)} (${smaller ? 'equal or lower' : 'higher'})`,
    })
  }
  goals.push({
    goal: `No regression left in place by Cairn (no template more than ${Math.round(REGRESSION_THRESHOLD * 100)} % slower)`,
    met: cairn.regressions.length === 0,
    detail:
      cairn.regressions.length === 0
        ? 'none'
        : cairn.regressions.map((r) => describeRegression(r, cairn.name)).join('; '),
  })
  return goals
}

/** `revenue per day: 112 → 139 ms (1.24×; its plans use none of Cairn's indexes)`. */
export function describeRegression(r: Regression, contender: string): string {
  const plans =
    r.planIndexes === undefined || r.planIndexes === null
      ? ''
      : r.planIndexes.length === 0
        ? `; its plans use none of ${contender}'s indexes`
        : `; its plans use ${r.planIndexes.join(', ')}`
  return `${r.template}: ${r.beforeMs.toFixed(0)} → ${r.afterMs.toFixed(0)} ms (${times(r.ratio)}${plans})`
}
