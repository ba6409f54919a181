import { describe, expect, it } from 'vitest'
import { cacheWorkload, POPULAR_RANGES, repeats, TEMPLATE_NAMES } from './cache-workload.js'
import { SeededRandom } from './seeded-random.js'

describe('cacheWorkload', () => {
  const options = { requests: 2000, seed: 7, tailShare: 0.05 }

  it('is the same sequence for the same options', () => {
    expect(cacheWorkload(options)).toEqual(cacheWorkload(options))
    expect(cacheWorkload({ ...options, seed: 8 })).not.toEqual(cacheWorkload(options))
  })

  it('asks for every template, as plain SQL with its literals inline', () => {
    const requests = cacheWorkload(options)
    expect(new Set(requests.map((r) => r.template))).toEqual(new Set(TEMPLATE_NAMES))
    for (const { sql } of requests) {
      expect(sql).toMatch(/^SELECT .* FROM gold_(orders|daily_sales|large_orders) WHERE /)
      expect(sql).not.toMatch(/\$\d/)
    }
  })

  it('repeats a few popular requests and rarely the tail', () => {
    const requests = cacheWorkload(options)
    const distinct = repeats(requests).filter((r) => !r).length
    expect(distinct).toBeLessThan(requests.length * 0.2)
    const lastWeek = POPULAR_RANGES[0]
    const popular = requests.filter((r) => lastWeek && r.sql.includes(`'${lastWeek.from}' AND '${lastWeek.to}'`))
    expect(popular.length).toBeGreaterThan(requests.length * 0.3)
  })
})

describe('repeats', () => {
  it('marks each SQL text after its first sight', () => {
    const r = (sql: string) => ({ template: 'daily_revenue' as const, sql })
    expect(repeats([r('a'), r('b'), r('a'), r('a')])).toEqual([false, false, true, true])
  })
})

describe('SeededRandom', () => {
  it('draws the first of a Zipf list most often', () => {
    const random = new SeededRandom(1)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 10_000; i++) {
      const k = random.zipf([0, 1, 2, 3], 1.2)
      counts[k] = (counts[k] ?? 0) + 1
    }
    expect(counts[0]).toBeGreaterThan(counts[1] ?? 0)
    expect(counts[1]).toBeGreaterThan(counts[3] ?? 0)
  })
})
