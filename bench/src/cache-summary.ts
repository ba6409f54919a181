import type { ProxyStats } from './cache-proxy-stats.js'
import type { CacheRequest } from './cache-workload.js'
import { type LatencyStats, latencyStats } from './latency-stats.js'
import type { PassResult } from './workload-runner.js'

/** The passes, in the order they run: each sends the same requests. */
export const PASSES = ['direct', 'cacheOff', 'cold', 'warm', 'warmOneClient'] as const
export type PassName = (typeof PASSES)[number]

export const PASS_NAMES: Record<PassName, string> = {
  direct: 'PostgreSQL (direct)',
  cacheOff: 'Cairn proxy, cache off',
  cold: 'Cairn proxy, cache on, cold pass',
  warm: 'Cairn proxy, cache on, warm pass',
  warmOneClient: 'Cairn proxy, cache on, warm pass, 1 client',
}

export interface PassInput {
  result: PassResult
  clients: number
  /**
   * CPU during the pass: of the proxy's process (through the proxy only) and of the bench's own process (the
   * clients), in % of one core; of the whole machine, in % of all cores.
   */
  cpu: { proxyPct: number | undefined; clientPct: number; hostPct: number }
  /** Through the proxy only: what its child said about the pass, the counters being what they grew by during it. */
  proxy?: ProxyStats
}

export interface PassSummary {
  pass: PassName
  target: string
  clients: number
  requests: number
  failed: number
  wallSeconds: number
  requestsPerSecond: number
  /** Client-side latency of every request that succeeded. */
  latency: LatencyStats
  /** Requests whose answer differs from PostgreSQL's (direct) for the same request. */
  answersDifferingFromDirect: number
  /** The proxy process's CPU over the pass, in % of one core, and per request in µs. */
  proxyCpuPct: number | undefined
  proxyCpuUsPerRequest: number | undefined
  /** The clients' CPU (the bench's process) over the pass, in % of one core. */
  clientCpuPct: number
  /** The whole machine's CPU busy over the pass, in % of all cores. */
  hostCpuPct: number
  cache?: {
    /** The proxy's cairn_cache_lookups_total during the pass, by outcome. */
    lookups: Record<string, number>
    /** Hits over every statement the proxy saw (hit, miss, bypass, uncacheable). */
    hitRate: number | undefined
    /**
     * Statements the proxy answered from the cache, by its statement records: also those whose lookup missed but
     * that took the answer of another session's fill of the same key in progress (counted as misses above).
     */
    servedFromCache: number
    /** The proxy's own time per statement (first byte in to last byte out), by cache outcome. */
    proxyLatency: Record<string, LatencyStats>
    uncacheableReasons: Record<string, number>
    storeErrors: number
    storedBytes: number
  }
}

export interface LatencyRow {
  name: string
  description: string
  latency: LatencyStats
}

/** Per template: how often it is asked for, and its median latency on each target. */
export interface TemplateRow {
  template: string
  requests: number
  distinct: number
  directP50Ms: number | undefined
  cacheOffP50Ms: number | undefined
  missP50Ms: number | undefined
  hitP50Ms: number | undefined
}

export interface CacheSummary {
  passes: PassSummary[]
  templates: TemplateRow[]
  /** Distinct SQL texts in the sequence: the requests a cache that keeps everything must still miss once. */
  distinctRequests: number
  /** The best hit rate a pass from an empty cache can have: repeated requests over all. */
  coldHitRateCeiling: number
  /** Client-side latency of hits, of misses, of the proxy with its cache off, and of PostgreSQL. */
  rows: LatencyRow[]
  ratios: {
    directP50OverHitP50: number | undefined
    cacheOffP50OverHitP50: number | undefined
    missP50OverCacheOffP50SameRequests: number | undefined
    cacheOffP50OverDirectP50: number | undefined
    warmThroughputOverCacheOff: number | undefined
  }
  goals: {
    /** Met on the warm pass with all its clients; also measured with one client at a time (no queueing). */
    hitP50Ms: {
      goal: number
      measured: number | undefined
      met: boolean
      oneClient: number | undefined
      metOneClient: boolean
    }
    /** Met on the warm pass (each request asked for before); the cold pass is also set against its ceiling. */
    hitRate: {
      goal: number
      cold: number | undefined
      coldCeiling: number
      warm: number | undefined
      met: boolean
    }
  }
}

const HIT_P50_GOAL_MS = 0.5
const HIT_RATE_GOAL = 0.95

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b

function latenciesAt(result: PassResult, indexes: readonly number[]): number[] {
  return indexes.map((i) => result.latenciesMs[i] as number).filter((ms) => !Number.isNaN(ms))
}

function summarizePass(pass: PassName, input: PassInput, direct: PassResult): PassSummary {
  const { result, proxy, cpu } = input
  const ok = result.latenciesMs.filter((ms) => !Number.isNaN(ms))
  const differing = result.answers.filter((a, i) => a !== '' && direct.answers[i] !== '' && a !== direct.answers[i])
  const summary: PassSummary = {
    pass,
    target: PASS_NAMES[pass],
    clients: input.clients,
    requests: result.latenciesMs.length,
    failed: result.latenciesMs.length - ok.length,
    wallSeconds: result.wallMs / 1000,
    requestsPerSecond: ok.length / (result.wallMs / 1000),
    latency: latencyStats(ok),
    answersDifferingFromDirect: differing.length,
    proxyCpuPct: cpu.proxyPct,
    proxyCpuUsPerRequest:
      cpu.proxyPct === undefined || ok.length === 0
        ? undefined
        : (cpu.proxyPct * 10_000 * (result.wallMs / 1000)) / ok.length,
    clientCpuPct: cpu.clientPct,
    hostCpuPct: cpu.hostPct,
  }
  if (proxy) {
    const seen = ['hit', 'miss', 'bypass', 'uncacheable'].reduce((n, k) => n + (proxy.lookups[k] ?? 0), 0)
    summary.cache = {
      lookups: proxy.lookups,
      hitRate: seen > 0 ? (proxy.lookups.hit ?? 0) / seen : undefined,
      servedFromCache: proxy.durationsMs.hit?.length ?? 0,
      proxyLatency: Object.fromEntries(Object.entries(proxy.durationsMs).map(([k, v]) => [k, latencyStats(v)])),
      uncacheableReasons: proxy.uncacheableReasons,
      storeErrors: proxy.storeErrors,
      storedBytes: proxy.storedBytes,
    }
  }
  return summary
}

/**
 * `repeated[i]`: the i-th request's SQL came earlier in the sequence. In the cold
 * pass the first sight of each SQL is a miss and a repeat should be a hit; in the
 * warm pass every request should be a hit (the cold pass asked for each before).
 * The proxy's counters say how many were.
 */
export function summarizeCacheBench(
  passes: Record<PassName, PassInput>,
  requests: readonly CacheRequest[],
  repeated: readonly boolean[],
): CacheSummary {
  const direct = passes.direct.result
  const summaries = PASSES.map((p) => summarizePass(p, passes[p], direct))
  const [directSummary, off, cold, warm, warmOneClient] = summaries as [
    PassSummary,
    PassSummary,
    PassSummary,
    PassSummary,
    PassSummary,
  ]
  const firstSeen = repeated.flatMap((r, i) => (r ? [] : [i]))
  const repeats = repeated.flatMap((r, i) => (r ? [i] : []))

  const row = (name: string, description: string, values: number[]): LatencyRow => ({
    name,
    description,
    latency: latencyStats(values),
  })
  const hit = warm.latency
  const miss = latencyStats(latenciesAt(passes.cold.result, firstSeen))
  const offSameAsMisses = latencyStats(latenciesAt(passes.cacheOff.result, firstSeen))
  const rows: LatencyRow[] = [
    {
      name: `hit (cache on, warm pass, ${warm.clients} clients)`,
      description: 'every request of the warm pass: all were asked for in the cold pass',
      latency: hit,
    },
    {
      name: 'hit (cache on, warm pass, 1 client)',
      description: 'the warm pass again from one client, one request at a time: no queueing behind other clients',
      latency: warmOneClient.latency,
    },
    row(
      'hit (cache on, cold pass, repeats)',
      'requests of the cold pass whose SQL came earlier in it',
      latenciesAt(passes.cold.result, repeats),
    ),
    {
      name: 'miss (cache on, cold pass, first sight)',
      description: 'requests of the cold pass whose SQL had not come before',
      latency: miss,
    },
    {
      name: 'cache off (proxy)',
      description: 'every request, through the proxy without its cache',
      latency: off.latency,
    },
    {
      name: 'cache off, same requests as the misses',
      description: 'the requests that missed, through the proxy without its cache',
      latency: offSameAsMisses,
    },
    { name: 'PostgreSQL direct', description: 'every request, straight to PostgreSQL', latency: directSummary.latency },
    row(
      'PostgreSQL direct, same requests as the misses',
      'the requests that missed, straight to PostgreSQL',
      latenciesAt(direct, firstSeen),
    ),
  ]
  // The proxy's own time for each hit, after each client-side row of hits.
  for (const [at, pass] of [
    [2, warmOneClient],
    [1, warm],
  ] as const) {
    const proxyHit = pass.cache?.proxyLatency.hit
    if (!proxyHit) continue
    rows.splice(at, 0, {
      name: `hit, proxy-side (warm pass, ${pass.clients} client${pass.clients === 1 ? '' : 's'})`,
      description: "the proxy's own time for each hit, first byte in to last byte out (its statement records)",
      latency: proxyHit,
    })
  }

  const hitP50 = hit.p50Ms
  const oneClientP50 = warmOneClient.latency.p50Ms
  const coldRate = cold.cache?.hitRate
  const warmRate = warm.cache?.hitRate
  const templates: TemplateRow[] = [...new Set(requests.map((r) => r.template))].map((template) => {
    const all = requests.flatMap((r, i) => (r.template === template ? [i] : []))
    const first = all.filter((i) => !repeated[i])
    return {
      template,
      requests: all.length,
      distinct: first.length,
      directP50Ms: latencyStats(latenciesAt(direct, all)).p50Ms,
      cacheOffP50Ms: latencyStats(latenciesAt(passes.cacheOff.result, all)).p50Ms,
      missP50Ms: latencyStats(latenciesAt(passes.cold.result, first)).p50Ms,
      hitP50Ms: latencyStats(latenciesAt(passes.warm.result, all)).p50Ms,
    }
  })
  const coldCeiling = repeated.length ? repeats.length / repeated.length : 0
  return {
    passes: summaries,
    templates,
    distinctRequests: firstSeen.length,
    coldHitRateCeiling: coldCeiling,
    rows,
    ratios: {
      directP50OverHitP50: ratio(directSummary.latency.p50Ms, hitP50),
      cacheOffP50OverHitP50: ratio(off.latency.p50Ms, hitP50),
      missP50OverCacheOffP50SameRequests: ratio(miss.p50Ms, offSameAsMisses.p50Ms),
      cacheOffP50OverDirectP50: ratio(off.latency.p50Ms, directSummary.latency.p50Ms),
      warmThroughputOverCacheOff: ratio(warm.requestsPerSecond, off.requestsPerSecond),
    },
    goals: {
      hitP50Ms: {
        goal: HIT_P50_GOAL_MS,
        measured: hitP50,
        met: hitP50 !== undefined && hitP50 <= HIT_P50_GOAL_MS,
        oneClient: oneClientP50,
        metOneClient: oneClientP50 !== undefined && oneClientP50 <= HIT_P50_GOAL_MS,
      },
      hitRate: {
        goal: HIT_RATE_GOAL,
        cold: coldRate,
        coldCeiling,
        warm: warmRate,
        met: warmRate !== undefined && warmRate >= HIT_RATE_GOAL,
      },
    },
  }
}
