import { isCairnError } from '@cairn/core'
import { describe, expect, it } from 'vitest'
import { describeWindows, inMaintenanceWindow, modeOf, parseActionPolicy } from '../src/actuator/action-policy.js'
import { judgeVerification } from '../src/actuator/judge-verification.js'
import { isWithinWindow, parseMaintenanceWindow } from '../src/actuator/maintenance-window.js'
import { mannWhitneyU } from '../src/actuator/mann-whitney-u.js'
import { type ActionVerdict, retryDecision } from '../src/actuator/retry-rule.js'

const configError = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected CAIRN_ERR_CONFIG_INVALID')
}

describe('action policy', () => {
  it('parses modes per kind (object or kind=mode text), budgets and windows, with defaults', () => {
    const p = parseActionPolicy({ modes: 'index.create=auto, index.drop=off', storageBudgetBytes: '1048576' })
    expect(modeOf(p, 'index.create')).toBe('auto')
    expect(modeOf(p, 'index.drop')).toBe('off')
    expect(modeOf(p, 'mview.create')).toBe('recommend')
    expect(p.storageBudgetBytes).toBe(1_048_576)
    expect(p.maxConcurrentChanges).toBe(1)
    expect(describeWindows(p)).toBe('always')
    const q = parseActionPolicy({
      modes: { 'index.create': 'recommend' },
      windows: 'Mon-Fri 01:00-05:00; Sat,Sun 22:00-02:00',
    })
    expect(q.windows).toHaveLength(2)
    expect(describeWindows(q)).toBe('Mon-Fri 01:00-05:00, Sat,Sun 22:00-02:00 UTC')
  })

  it('refuses invalid policies with a coded error that says what is wrong', () => {
    expect(configError(() => parseActionPolicy({ modes: { 'index.create': 'sometimes' } }))).toMatch(
      /mode of index.create: expected one of off, recommend, auto, got "sometimes"/,
    )
    expect(configError(() => parseActionPolicy({ modes: 'index.create' }))).toMatch(/expected kind=mode/)
    expect(configError(() => parseActionPolicy({ storageBudgetBytes: -1 }))).toMatch(/storageBudgetBytes/)
    expect(configError(() => parseActionPolicy({ maxConcurrentChanges: 0 }))).toMatch(/maxConcurrentChanges/)
    expect(configError(() => parseActionPolicy({ windows: ['always', 'Mon 01:00-02:00'] }))).toMatch(
      /cannot be combined/,
    )
    expect(configError(() => parseMaintenanceWindow('Mon-Fry 01:00-05:00'))).toMatch(/unknown day "Fry"/)
    expect(configError(() => parseMaintenanceWindow('Mon-Fri 25:00-05:00'))).toMatch(/"25:00" is not a time of day/)
    expect(configError(() => parseMaintenanceWindow('nightly'))).toMatch(/time range/)
  })

  it('reads maintenance windows in UTC, including ones that run past midnight', () => {
    const weekdays = parseMaintenanceWindow('Mon-Fri 01:00-05:00')
    expect(isWithinWindow(weekdays, new Date('2026-03-02T01:00:00Z'))).toBe(true) // a Monday
    expect(isWithinWindow(weekdays, new Date('2026-03-02T05:00:00Z'))).toBe(false)
    expect(isWithinWindow(weekdays, new Date('2026-03-01T02:00:00Z'))).toBe(false) // a Sunday
    const nights = parseMaintenanceWindow('Fri 22:00-02:00')
    expect(isWithinWindow(nights, new Date('2026-03-06T23:30:00Z'))).toBe(true) // Friday evening
    expect(isWithinWindow(nights, new Date('2026-03-07T01:59:00Z'))).toBe(true) // Saturday morning
    expect(isWithinWindow(nights, new Date('2026-03-06T01:00:00Z'))).toBe(false) // Friday morning
    expect(isWithinWindow(parseMaintenanceWindow('00:00-24:00'), new Date('2026-03-04T12:00:00Z'))).toBe(true)
    expect(inMaintenanceWindow(parseActionPolicy({}), new Date())).toBe(true)
  })
})

describe('verification statistics', () => {
  it('Mann-Whitney U: separated samples are significant, identical ones are not', () => {
    const slow = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    const fast = [1, 2, 3, 4, 5, 6, 7, 8, 9, 9.5]
    const r = mannWhitneyU(slow, fast)
    expect(r.u).toBe(100)
    expect(r.pGreater).toBeLessThan(0.001)
    expect(r.pLess).toBeGreaterThan(0.99)
    const same = mannWhitneyU([5, 5, 5, 5], [5, 5, 5, 5])
    expect(same.pGreater).toBe(1)
  })

  const noisy = (median: number, n: number, seed: number) =>
    Array.from({ length: n }, (_, i) => median * (1 + 0.1 * Math.sin(seed * 7 + i * 1.7)))

  it('keeps a change that makes the weighted workload faster, with the numbers in the reason', () => {
    const v = judgeVerification({
      fingerprints: [
        {
          fingerprint: 'a',
          executions: 90,
          perHour: 90,
          before: noisy(10, 20, 1),
          after: noisy(1, 20, 2),
          errorsBefore: 0,
          errorsAfter: 0,
        },
        {
          fingerprint: 'b',
          executions: 10,
          perHour: 10,
          before: noisy(2, 20, 3),
          after: noisy(2, 20, 4),
          errorsBefore: 0,
          errorsAfter: 0,
        },
      ],
      minImprovement: 0.05,
      maxRegression: 0.1,
      alpha: 0.05,
      resamples: 500,
      seed: 1,
      predictedBenefitMs: 700,
    })
    expect(v.keep).toBe(true)
    expect(v.weightedRatio).toBeLessThan(0.2)
    expect(v.measuredBenefitMs).toBeGreaterThan(700)
    expect(v.reason).toMatch(/faster \(weighted time after\/before 0\.\d+/)
    expect(v.reason).toMatch(/against 700 ms\/h predicted/)
  })

  it('rolls back when one fingerprint regresses beyond 10 % even though the total improves', () => {
    const v = judgeVerification({
      fingerprints: [
        {
          fingerprint: 'reads',
          executions: 50,
          perHour: 50,
          before: noisy(10, 20, 1),
          after: noisy(2, 20, 2),
          errorsBefore: 0,
          errorsAfter: 0,
        },
        {
          fingerprint: 'writes',
          executions: 50,
          perHour: 50,
          before: noisy(1, 20, 3),
          after: noisy(1.5, 20, 4),
          errorsBefore: 0,
          errorsAfter: 0,
        },
      ],
      minImprovement: 0.05,
      maxRegression: 0.1,
      alpha: 0.05,
      resamples: 500,
      seed: 1,
    })
    expect(v.keep).toBe(false)
    expect(v.fingerprints.find((f) => f.fingerprint === 'writes')?.regressed).toBe(true)
    expect(v.reason).toMatch(/1 fingerprint regressed: writes \d+\.\d% slower/)
  })

  it('rolls back a change within the noise, and one that breaks a statement', () => {
    const flat = judgeVerification({
      fingerprints: [
        {
          fingerprint: 'a',
          executions: 1,
          perHour: 1,
          before: noisy(5, 20, 1),
          after: noisy(5, 20, 2),
          errorsBefore: 0,
          errorsAfter: 0,
        },
      ],
      minImprovement: 0.05,
      maxRegression: 0.1,
      alpha: 0.05,
      resamples: 500,
      seed: 1,
    })
    expect(flat.keep).toBe(false)
    expect(flat.reason).toMatch(/did not improve by the required 5\.0%/)
    const broken = judgeVerification({
      fingerprints: [
        {
          fingerprint: 'a',
          executions: 1,
          perHour: 1,
          before: noisy(5, 20, 1),
          after: noisy(1, 10, 2),
          errorsBefore: 0,
          errorsAfter: 10,
          firstErrorAfter: 'duplicate key value',
        },
      ],
      minImprovement: 0.05,
      maxRegression: 0.1,
      alpha: 0.05,
      resamples: 500,
      seed: 1,
    })
    expect(broken.keep).toBe(false)
    expect(broken.reason).toMatch(/fails after the change \(10 of its replays: duplicate key value\)/)
  })
})

describe('verification of changes made for other reasons than speed (minImprovement 0)', () => {
  const judge = (after: number[]) =>
    judgeVerification({
      fingerprints: [
        {
          fingerprint: 'writes',
          executions: 10,
          perHour: 10,
          before: [5, 5.2, 4.9, 5.1, 5.3, 4.8, 5, 5.1, 4.9, 5.2],
          after,
          errorsBefore: 0,
          errorsAfter: 0,
        },
      ],
      minImprovement: 0,
      maxRegression: 0.1,
      alpha: 0.05,
      resamples: 500,
      seed: 3,
    })

  it('keeps a change that leaves the workload as it was', () => {
    expect(judge([5.1, 5, 5.2, 4.9, 5.3, 4.9, 5, 5.2, 5.1, 5]).keep).toBe(true)
  })

  it('rolls back one that makes it clearly slower', () => {
    const v = judge([6.5, 6.6, 6.4, 6.7, 6.5, 6.6, 6.4, 6.5, 6.6, 6.5])
    expect(v.keep).toBe(false)
    expect(v.reason).toMatch(/got slower by more than 10\.0%/)
  })
})

describe('retry rule', () => {
  const verdict = (over: Partial<ActionVerdict>): ActionVerdict => ({
    key: 'k',
    actionId: '1',
    kind: 'index.create',
    relation: 's.t',
    verdict: 'rolled_back',
    reason: 'Slower.',
    predictedBenefitMs: 100,
    measuredBenefitMs: -20,
    weightedRatio: 1.2,
    attempts: 1,
    decidedAt: 0,
    details: {},
    ...over,
  })
  const day = 86_400_000

  it('holds a rolled-back key back until its cool-down passes (longer after each attempt)', () => {
    expect(retryDecision(verdict({}), 100, day).retry).toBe(false)
    expect(retryDecision(verdict({}), 100, day).why).toMatch(/rolled back 1\.0 days? ago|rolled back 24\.0 h ago/)
    expect(retryDecision(verdict({}), 100, 7 * day).retry).toBe(true)
    expect(retryDecision(verdict({ attempts: 2 }), 100, 7 * day).retry).toBe(false)
    expect(retryDecision(verdict({ verdict: 'failed' }), 100, day).retry).toBe(true)
  })

  it('lets a key through sooner when its predicted benefit grew materially', () => {
    expect(retryDecision(verdict({}), 150, day).retry).toBe(false)
    const grown = retryDecision(verdict({}), 250, day)
    expect(grown.retry).toBe(true)
    expect(grown.why).toMatch(/grew from 100 to 250 ms\/h/)
  })
})
