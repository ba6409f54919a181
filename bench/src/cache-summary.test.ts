import { describe, expect, it } from 'vitest'
import type { ProxyStats } from './cache-proxy-stats.js'
import { summarizeCacheBench } from './cache-summary.js'
import type { CacheRequest } from './cache-workload.js'
import { latencyStats, percentile } from './latency-stats.js'
import type { PassResult } from './workload-runner.js'

const pass = (latenciesMs: number[], answers = latenciesMs.map(() => 'a')): PassResult => ({
  latenciesMs,
  answers,
  errors: [],
  wallMs: 1000,
  clientCpuMs: 300,
})
const stats = (hit: number, miss: number): ProxyStats => ({
  lookups: { hit, miss },
  storeErrors: 0,
  storedBytes: 0,
  durationsMs: { hit: [0.2, 0.3] },
  uncacheableReasons: {},
})

describe('percentile', () => {
  it('is the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 50)).toBe(50)
    expect(percentile(sorted, 99)).toBe(99)
    expect(percentile([], 50)).toBeUndefined()
    expect(latencyStats([3, 1, 2]).p50Ms).toBe(2)
  })
})

describe('summarizeCacheBench', () => {
  const cpu = { proxyPct: undefined, clientPct: 30, hostPct: 50 }
  const requests: CacheRequest[] = ['a', 'b', 'a', 'a'].map((sql) => ({ template: 'daily_revenue', sql }))
  const repeated = [false, false, true, true]
  const summary = summarizeCacheBench(
    {
      direct: { result: pass([10, 20, 10, 10]), clients: 2, cpu },
      cacheOff: { result: pass([12, 22, 12, 12]), clients: 2, cpu: { proxyPct: 40, clientPct: 30, hostPct: 90 } },
      cold: { result: pass([13, 23, 0.5, 0.5], ['a', 'a', 'a', 'x']), clients: 2, cpu, proxy: stats(2, 2) },
      warm: { result: pass([0.4, 0.4, 0.4, 0.4]), clients: 2, cpu, proxy: stats(4, 0) },
      warmOneClient: { result: pass([0.3, 0.3, 0.3, 0.3]), clients: 1, cpu, proxy: stats(4, 0) },
    },
    requests,
    repeated,
  )

  it('reports hit rates from the counters, against the best a cold pass can do', () => {
    expect(summary.distinctRequests).toBe(2)
    expect(summary.coldHitRateCeiling).toBe(0.5)
    expect(summary.goals.hitRate).toMatchObject({ cold: 0.5, warm: 1, met: true })
  })

  it('sets hits against misses, the proxy without its cache and PostgreSQL', () => {
    expect(summary.goals.hitP50Ms).toMatchObject({ measured: 0.4, met: true, oneClient: 0.3 })
    // 40 % of a core for 1 s over 4 requests.
    expect(summary.passes.find((p) => p.pass === 'cacheOff')?.proxyCpuUsPerRequest).toBeCloseTo(100_000)
    expect(summary.ratios.directP50OverHitP50).toBe(25)
    expect(summary.ratios.missP50OverCacheOffP50SameRequests).toBeCloseTo(13 / 12)
    expect(summary.passes.find((p) => p.pass === 'cold')?.answersDifferingFromDirect).toBe(1)
  })
})
