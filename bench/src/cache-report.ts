import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CacheSummary, PassSummary } from './cache-summary.js'
import type { Machine } from './machine.js'
import { alignedTable, fixed } from './markdown-table.js'

export interface CacheBenchReport {
  date: string
  command: string
  settings: {
    requests: number
    clients: number
    seed: number
    tailShare: number
    database: string
    rows: number
    poolSize: number
    cacheTtlMs: number
    redisKeyPrefix: string
  }
  machine: Machine & { postgres: string; redis: string }
  summary: CacheSummary
}

const pct = (value: number | undefined) => (value === undefined ? '–' : `${(value * 100).toFixed(1)} %`)
const times = (value: number | undefined) => (value === undefined ? '–' : `${value.toFixed(value < 10 ? 2 : 0)}×`)
const ms = (value: number | undefined) => fixed(value, value !== undefined && value < 10 ? 3 : 1)

/** Client-side latency of hits, misses, the proxy with its cache off and PostgreSQL. */
export function latencyTable(summary: CacheSummary): string {
  const header = ['requests', 'count', 'p50 ms', 'p95 ms', 'p99 ms', 'mean ms']
  const cells = summary.rows.map(({ name, latency: l }) => [
    name,
    String(l.count),
    ms(l.p50Ms),
    ms(l.p95Ms),
    ms(l.p99Ms),
    ms(l.meanMs),
  ])
  return alignedTable(
    header,
    header.map((_, i) => i > 0),
    cells,
  )
}

function lookupCell(pass: PassSummary, outcome: string): string {
  return pass.cache ? String(pass.cache.lookups[outcome] ?? 0) : '–'
}

/** Each pass: throughput, latency, the proxy's cache counters, and whether its answers matched PostgreSQL's. */
export function passTable(summary: CacheSummary): string {
  const header = [
    'pass',
    'clients',
    'requests/s',
    'p50 ms',
    'p99 ms',
    'hits',
    'misses',
    'bypass',
    'uncacheable',
    'hit rate',
    'served from cache',
    'proxy CPU %',
    'proxy CPU µs/req',
    'client CPU %',
    'host CPU %',
    'failed',
    'answers ≠ direct',
  ]
  const cells = summary.passes.map((p) => [
    p.target,
    String(p.clients),
    p.requestsPerSecond.toFixed(0),
    ms(p.latency.p50Ms),
    ms(p.latency.p99Ms),
    lookupCell(p, 'hit'),
    lookupCell(p, 'miss'),
    lookupCell(p, 'bypass'),
    lookupCell(p, 'uncacheable'),
    pct(p.cache?.hitRate),
    p.cache ? String(p.cache.servedFromCache) : '–',
    fixed(p.proxyCpuPct, 0),
    fixed(p.proxyCpuUsPerRequest, 0),
    fixed(p.clientCpuPct, 0),
    fixed(p.hostCpuPct, 0),
    String(p.failed),
    String(p.answersDifferingFromDirect),
  ])
  return alignedTable(
    header,
    header.map((_, i) => i > 0),
    cells,
  )
}

export function templateTable(summary: CacheSummary): string {
  const header = ['template', 'requests', 'distinct', 'direct p50 ms', 'cache off p50 ms', 'miss p50 ms', 'hit p50 ms']
  const cells = summary.templates.map((t) => [
    t.template,
    String(t.requests),
    String(t.distinct),
    ms(t.directP50Ms),
    ms(t.cacheOffP50Ms),
    ms(t.missP50Ms),
    ms(t.hitP50Ms),
  ])
  return alignedTable(
    header,
    header.map((_, i) => i > 0),
    cells,
  )
}

export function ratioLines(summary: CacheSummary): string[] {
  const r = summary.ratios
  const { hitP50Ms, hitRate } = summary.goals
  return [
    `- PostgreSQL direct p50 / hit p50: ${times(r.directP50OverHitP50)}; proxy with cache off p50 / hit p50: ${times(r.cacheOffP50OverHitP50)}`,
    `- miss p50 / cache-off p50 on the same requests: ${times(r.missP50OverCacheOffP50SameRequests)} (not a miss's own cost: in the cold pass most requests are hits, so PostgreSQL is less busy)`,
    `- proxy with cache off p50 / PostgreSQL direct p50: ${times(r.cacheOffP50OverDirectP50)}`,
    `- warm pass throughput / cache-off throughput: ${times(r.warmThroughputOverCacheOff)}`,
    `- goal hit p50 ≤ ${hitP50Ms.goal} ms through the proxy: ${ms(hitP50Ms.measured)} ms with all clients, ` +
      `${hitP50Ms.met ? 'met' : 'not met'}; ${ms(hitP50Ms.oneClient)} ms with one client, ` +
      `${hitP50Ms.metOneClient ? 'met' : 'not met'}`,
    `- goal hit rate ≥ ${pct(hitRate.goal)} on the repeating workload: warm pass ${pct(hitRate.warm)}, ` +
      `${hitRate.met ? 'met' : 'not met'}; cold pass (from an empty cache) ${pct(hitRate.cold)}, ` +
      `of at most ${pct(hitRate.coldCeiling)} (${summary.distinctRequests} distinct requests must miss once)`,
  ]
}

function uncacheableLines(summary: CacheSummary): string[] {
  const lines: string[] = []
  for (const p of summary.passes) {
    for (const [reason, count] of Object.entries(p.cache?.uncacheableReasons ?? {})) {
      lines.push(`- ${p.target}: ${count} × ${reason}`)
    }
    if (p.cache?.storeErrors) {
      lines.push(
        `- ${p.target}: ${p.cache.storeErrors} Redis errors (\`cairn_cache_errors_total\`: a lookup bypassed ` +
          'the cache, or an entry or a relation version was not written)',
      )
    }
  }
  return lines
}

export function markdownCacheReport(report: CacheBenchReport): string {
  const { settings: s, machine: m, summary } = report
  const notes = uncacheableLines(summary)
  const lines = [
    `# Result cache benchmark, ${report.date}`,
    '',
    `\`${report.command}\``,
    '',
    `${s.requests} dashboard requests (${summary.templates.length} SQL templates over \`gold_orders\`, ` +
      `${s.rows} rows, and two views; parameters skewed towards a few popular date ranges, categories, channels ` +
      `and countries, ${pct(s.tailShare)} arbitrary date ranges; seed ${s.seed}) from ${s.clients} concurrent ` +
      `node-postgres clients, plain SQL over the simple query protocol, in database \`${s.database}\`. The same ` +
      'sequence runs against PostgreSQL directly, through the proxy with its cache off, and through the proxy with ' +
      'its cache on: a cold pass from an empty cache, a warm pass, and the warm pass again from one client. Both ' +
      `proxies: a Node process of their own, transaction pooling (pool size ${s.poolSize}), SCRAM, telemetry on; ` +
      `the cache in Redis (TTL ${s.cacheTtlMs / 1000} s), with the write follower running. Latency is measured ` +
      'client-side around each query.',
    '',
    `Machine: ${m.nproc} × ${m.cpuModel} (nproc ${m.nproc}), ${m.memoryGiB} GiB, Linux ${m.kernel}, ` +
      `Node ${m.node}; PostgreSQL ${m.postgres}; Redis ${m.redis}. Clients, proxy, PostgreSQL and Redis share ` +
      'these cores.',
    '',
    latencyTable(summary),
    '',
    ...ratioLines(summary),
    '',
    '## Passes',
    '',
    passTable(summary),
    '',
    'Hits, misses, bypass and uncacheable: what `cairn_cache_lookups_total` grew by during the pass. Hit rate: ' +
      'hits over all four. Served from cache: statements the proxy answered from the cache by its statement ' +
      'records, which also counts a lookup that missed but then shared the answer of a fill of the same key in ' +
      "progress in another session. Proxy CPU: the proxy process's CPU time over the pass (% of one core; per request in " +
      "µs). Client CPU: the bench's own process, where the clients run (% of one core). Host CPU: the whole " +
      'machine\'s (% of all cores). "answers ≠ direct": requests whose rows differ from what PostgreSQL answered ' +
      'directly.',
    '',
    '## Templates',
    '',
    templateTable(summary),
  ]
  if (notes.length > 0) lines.push('', 'Uncacheable statements and cache errors:', '', ...notes)
  return `${lines.join('\n')}\n`
}

/** Writes `cache-<stamp>.json` and `cache-<stamp>.md` into `dir`; returns their paths. */
export async function writeCacheReport(dir: string, stamp: string, report: CacheBenchReport): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const json = join(dir, `cache-${stamp}.json`)
  const md = join(dir, `cache-${stamp}.md`)
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(md, markdownCacheReport(report))
  return [json, md]
}
