import { isCairnError } from '@cairn/core'
import { describe, expect, it } from 'vitest'
import { latestCompletePeriod, parseSchedule, periodEndingAt, periodsBetween } from '../src/scheduler/cron-periods.js'
import type { DagDefinition, TaskDefinition } from '../src/scheduler/dag.js'
import { defineDag, downstreamOf, topologicalOrder, validateDags } from '../src/scheduler/dag-validation.js'
import { retryDelay } from '../src/scheduler/scheduler-util.js'

const run = async () => {}
const task = (name: string, dependsOn?: string[], extra: Partial<TaskDefinition> = {}): TaskDefinition => ({
  name,
  run,
  ...(dependsOn ? { dependsOn } : {}),
  ...extra,
})
const dag = (extra: Partial<DagDefinition> = {}): DagDefinition => ({
  name: 'sales',
  description: 'test',
  tasks: [task('extract'), task('load', ['extract'])],
  ...extra,
})

/** The coded error `fn` throws. */
function invalid(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(isCairnError(err, 'CAIRN_ERR_SCHEDULER_INVALID_DAG')).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected CAIRN_ERR_SCHEDULER_INVALID_DAG')
}

describe('defineDag', () => {
  it('accepts a valid DAG and returns a frozen copy', () => {
    const def = dag({ schedule: '0 2 * * *', maxActiveRuns: 2, deadlineMs: 60_000 })
    const defined = defineDag(def)
    expect(defined).not.toBe(def)
    expect(defined.tasks.map((t) => t.name)).toEqual(['extract', 'load'])
    expect(Object.isFrozen(defined)).toBe(true)
    expect(Object.isFrozen(defined.tasks[0])).toBe(true)
    expect(defineDag(defined).name).toBe('sales')
  })

  it('reports a cycle with the tasks along it', () => {
    const message = invalid(() =>
      defineDag(dag({ tasks: [task('a', ['c']), task('b', ['a']), task('c', ['b']), task('d', ['a'])] })),
    )
    expect(message).toContain('tasks form a cycle: a → b → c → a')
  })

  it('reports unknown and self dependencies', () => {
    const message = invalid(() => defineDag(dag({ tasks: [task('a', ['nope']), task('b', ['b'])] })))
    expect(message).toContain('task "a" depends on unknown task "nope"')
    expect(message).toContain('task "b" depends on itself')
  })

  it('reports a bad cron expression, a date instead of a cron, and a cron that never fires', () => {
    expect(invalid(() => defineDag(dag({ schedule: '61 * * * *' })))).toMatch(
      /schedule "61 \* \* \* \*" is not a valid cron expression/,
    )
    expect(invalid(() => defineDag(dag({ schedule: 'every day' })))).toMatch(/not a valid cron expression/)
    expect(invalid(() => defineDag(dag({ schedule: '2025-01-01T00:00:00' })))).toMatch(/is a date, not a cron/)
    expect(invalid(() => defineDag(dag({ schedule: '0 0 30 2 *' })))).toMatch(/never fires/)
  })

  it('reports bad names, duplicate tasks, non-positive numbers and an empty DAG, all at once', () => {
    const message = invalid(() =>
      defineDag(
        dag({
          name: 'Sales-DAG',
          maxActiveRuns: 0,
          deadlineMs: -5,
          tasks: [
            task('load'),
            task('load'),
            task('9lives'),
            task('slow', [], { timeoutMs: 0, retries: 1.5, retryDelayMs: Number.NaN }),
          ],
        }),
      ),
    )
    expect(message).toContain('name "Sales-DAG" does not match')
    expect(message).toContain('task "load" is defined twice')
    expect(message).toContain('task name "9lives" does not match')
    expect(message).toContain('maxActiveRuns must be an integer ≥ 1 (got 0)')
    expect(message).toContain('deadlineMs must be a number between 1')
    expect(message).toContain('task "slow": timeoutMs must be a number between 1')
    expect(message).toContain('task "slow": retries must be an integer ≥ 0 (got 1.5)')
    expect(message).toContain('task "slow": retryDelayMs must be a number')
    expect(invalid(() => defineDag(dag({ tasks: [] })))).toContain('at least one task')
  })

  it('refuses a DAG triggered by itself', () => {
    expect(invalid(() => defineDag(dag({ triggeredBy: ['sales'] })))).toContain('cannot be triggered by itself')
  })
})

describe('validateDags', () => {
  it('refuses duplicate DAG names, unknown upstream DAGs and cycles of data-aware triggers', () => {
    expect(invalid(() => validateDags([dag(), dag()]))).toContain('DAG "sales" is defined twice')
    expect(invalid(() => validateDags([dag({ triggeredBy: ['nowhere'] })]))).toContain(
      'DAG "sales" is triggered by unknown DAG "nowhere"',
    )
    expect(
      invalid(() =>
        validateDags([
          dag({ name: 'a', triggeredBy: ['c'] }),
          dag({ name: 'b', triggeredBy: ['a'] }),
          dag({ name: 'c', triggeredBy: ['b'] }),
        ]),
      ),
    ).toContain('data-aware triggers form a cycle: a → b → c → a')
    expect(validateDags([dag({ name: 'a' }), dag({ name: 'b', triggeredBy: ['a'] })])).toHaveLength(2)
  })
})

describe('topologicalOrder', () => {
  it('puts every task after its dependencies, declaration order breaking ties', () => {
    const def = defineDag(
      dag({
        tasks: [task('report', ['orders', 'customers']), task('orders', ['raw']), task('customers'), task('raw')],
      }),
    )
    expect(topologicalOrder(def).map((t) => t.name)).toEqual(['customers', 'raw', 'orders', 'report'])
    expect([...downstreamOf(def, 'raw')].sort()).toEqual(['orders', 'report'])
  })
})

describe('cron periods and backoff', () => {
  const daily = parseSchedule('0 0 * * *')

  it('enumerates the periods inside a range, a fire at the start included, a partial period at the end not', () => {
    const periods = periodsBetween(daily, new Date('2025-01-01T00:00:00Z'), new Date('2025-01-04T12:00:00Z'))
    expect(periods.map((p) => [p.from.toISOString(), p.to.toISOString()])).toEqual([
      ['2025-01-01T00:00:00.000Z', '2025-01-02T00:00:00.000Z'],
      ['2025-01-02T00:00:00.000Z', '2025-01-03T00:00:00.000Z'],
      ['2025-01-03T00:00:00.000Z', '2025-01-04T00:00:00.000Z'],
    ])
    expect(periodsBetween(daily, new Date('2025-01-01T00:00:01Z'), new Date('2025-01-03T00:00:00Z'))).toHaveLength(1)
  })

  it('finds the period ending at a fire time and the latest complete period', () => {
    const end = new Date('2025-03-10T00:00:00Z')
    expect(periodEndingAt(daily, end).from.toISOString()).toBe('2025-03-09T00:00:00.000Z')
    const latest = latestCompletePeriod(daily, new Date('2025-03-10T15:30:00Z'))
    expect([latest.from.toISOString(), latest.to.toISOString()]).toEqual([
      '2025-03-09T00:00:00.000Z',
      '2025-03-10T00:00:00.000Z',
    ])
    expect(latestCompletePeriod(daily, end).to.toISOString()).toBe('2025-03-10T00:00:00.000Z')
  })

  it('doubles the retry delay and caps it', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, 50, 300))).toEqual([50, 100, 200, 300, 300])
  })
})
