import { describe, expect, it } from 'vitest'
import type { SecondaryIndex } from './index-bench-indexes.js'
import { describeRegression, evaluateGoals, summarizeContender } from './index-bench-summary.js'
import type { TemplateTime, WorkloadPass } from './index-bench-workload.js'

const pass = (templates: TemplateTime[]): WorkloadPass => ({
  label: 'pass',
  statements: templates.reduce((n, t) => n + t.calls, 0),
  failures: templates.reduce((n, t) => n + t.failures, 0),
  totalMs: templates.reduce((ms, t) => ms + t.totalMs, 0),
  wallMs: 0,
  startedAt: 0,
  endedAt: 0,
  templates,
})
const t = (name: string, calls: number, totalMs: number, failures = 0): TemplateTime => ({
  name,
  calls,
  totalMs,
  failures,
})
const index = (bytes: number): SecondaryIndex => ({
  schema: 'silver',
  table: 'orders',
  name: 'i',
  definition: '',
  bytes,
})

describe('summarizeContender', () => {
  const before = pass([t('a', 10, 9000), t('b', 5, 100), t('c', 4, 50), t('unused', 0, 0)])
  const after = pass([t('a', 10, 900), t('b', 5, 111), t('c', 4, 54), t('unused', 0, 0)])
  const summary = summarizeContender('cairn', before, after, [index(1000), index(24)])

  it('compares the totals and adds up the storage of the indexes left in place', () => {
    expect(summary.beforeMs).toBe(9150)
    expect(summary.afterMs).toBe(1065)
    expect(summary.speedup).toBeCloseTo(9150 / 1065, 6)
    expect(summary.indexes).toBe(2)
    expect(summary.storageBytes).toBe(1024)
    expect(summary.templates.map((x) => x.template)).toEqual(['a', 'b', 'c'])
  })

  it('counts a template more than 10 % slower as a regression, and one 8 % slower as none', () => {
    expect(summary.regressions).toEqual([{ template: 'b', calls: 5, beforeMs: 100, afterMs: 111, ratio: 1.11 }])
  })

  it('counts failures on each side', () => {
    const failing = summarizeContender('x', pass([t('a', 2, 120_000, 2)]), pass([t('a', 2, 10, 0)]), [])
    expect(failing.failuresBefore).toBe(2)
    expect(failing.failuresAfter).toBe(0)
    expect(failing.speedup).toBe(12_000)
  })
})

describe('evaluateGoals', () => {
  const summary = (name: string, beforeMs: number, afterMs: number, bytes: number, slower = false) =>
    summarizeContender(
      name,
      pass([t('a', 1, beforeMs), t('b', 1, 10)]),
      pass([t('a', 1, afterMs), t('b', 1, slower ? 20 : 10)]),
      [index(bytes)],
    )

  it('meets every goal only when each holds', () => {
    const cairn = summary('Cairn', 1000, 100, 500)
    const goals = evaluateGoals(cairn, [summary('Dexter', 1000, 300, 800), summary('every column', 1000, 150, 2000)])
    expect(goals.map((g) => g.met)).toEqual([true, true, true, true])
    expect(goals[0]?.detail).toContain('9.18×')
  })

  it('fails the speed-up, a baseline with less storage and a regression, saying why', () => {
    const cairn = summary('Cairn', 1000, 300, 500, true)
    const goals = evaluateGoals(cairn, [summary('Dexter', 1000, 400, 400)])
    expect(goals.map((g) => g.met)).toEqual([false, false, false])
    expect(goals[1]?.detail).toContain('(higher)')
    expect(goals[2]?.detail).toBe('b: 10 → 20 ms (2.00×)')
  })

  it('is not better than a baseline that ran the workload faster', () => {
    const goals = evaluateGoals(summary('Cairn', 1000, 200, 100), [summary('Dexter', 1000, 150, 100)])
    expect(goals[1]?.met).toBe(false)
    expect(goals[1]?.detail).toContain('not larger')
  })
})

describe('describeRegression', () => {
  const r = { template: 'revenue per day', calls: 3, beforeMs: 112, afterMs: 139, ratio: 139 / 112 }

  it("says which of the contender's indexes the plans use, when they were explained", () => {
    expect(describeRegression({ ...r, planIndexes: [] }, 'Cairn')).toBe(
      "revenue per day: 112 → 139 ms (1.24×; its plans use none of Cairn's indexes)",
    )
    expect(describeRegression({ ...r, planIndexes: ['cairn_a'] }, 'Cairn')).toContain('its plans use cairn_a')
    expect(describeRegression({ ...r, planIndexes: null }, 'Cairn')).toBe('revenue per day: 112 → 139 ms (1.24×)')
  })
})
