/**
 * What agents cost the proxy: pgbench's select-only script (simple protocol)
 * against PostgreSQL directly, through Cairn's proxy with telemetry and no
 * agents, and through proxies hosting deliberately slow agents on the same
 * bus and event loop: one that awaits 20 ms per statement, one that sends 50 ms
 * of CPU work to the worker pool per 100 statements, and both. Rounds
 * interleave the targets. Prints per target the median over rounds of tps,
 * p50, p95 and p99, and each agent proxy's ratios to the plain one. Writes
 * results/agents-<stamp>.{json,md}.
 *
 *   npm run bench:agents -w @cairn/bench
 *
 * Settings (environment): BENCH_SECONDS (15), BENCH_ROUNDS (3), BENCH_CLIENTS (8), BENCH_THREADS (2),
 * BENCH_SCALE (10), BENCH_SAMPLING_RATE (0.2), BENCH_DATABASE (cairn_bench).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { numericSetting, progress, settingsInEffect } from './bench-settings.js'
import { databaseUrlFor, ensureDatabase, serverVersion, withClient } from './database.js'
import { describeMachine } from './machine.js'
import { alignedTable, fixed } from './markdown-table.js'
import { type Endpoint, initPgbench, type PgbenchResult, runPgbench } from './pgbench.js'
import { type ProxyChild, startProxyChild, type TelemetryCounts } from './proxy-child.js'
import { servicesUp } from './services.js'

const SETTINGS_ENV = [
  'BENCH_SECONDS',
  'BENCH_ROUNDS',
  'BENCH_CLIENTS',
  'BENCH_THREADS',
  'BENCH_SCALE',
  'BENCH_SAMPLING_RATE',
  'BENCH_DATABASE',
] as const
const AGENT_TARGETS = {
  'proxy + awaiting agent': 'sleepy',
  'proxy + worker-heavy agent': 'cruncher',
  'proxy + both': 'sleepy,cruncher',
} as const
const TARGETS = ['direct', 'proxy', ...(Object.keys(AGENT_TARGETS) as (keyof typeof AGENT_TARGETS)[])] as const
type Target = (typeof TARGETS)[number]

const median = (values: readonly (number | undefined)[]): number | undefined => {
  const v = values.filter((x): x is number => x !== undefined).sort((a, b) => a - b)
  if (v.length === 0) return undefined
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : ((v[mid - 1] as number) + (v[mid] as number)) / 2
}

async function main(): Promise<void> {
  const seconds = numericSetting('BENCH_SECONDS', 15)
  const rounds = Math.max(1, Math.floor(numericSetting('BENCH_ROUNDS', 3)))
  const clients = numericSetting('BENCH_CLIENTS', 8)
  const threads = numericSetting('BENCH_THREADS', 2)
  const scale = numericSetting('BENCH_SCALE', 10)
  const samplingRate = numericSetting('BENCH_SAMPLING_RATE', 0.2)
  const database = process.env.BENCH_DATABASE || 'cairn_bench'
  const command = [...settingsInEffect(SETTINGS_ENV), 'npm run bench:agents -w @cairn/bench'].join(' ')

  progress('starting PostgreSQL and Redis (scripts/services.sh up)')
  const adminUrl = await servicesUp()
  const url = new URL(adminUrl)
  const postgres = await withClient(adminUrl, async (client) => {
    if (await ensureDatabase(client, database)) progress(`created database ${database}`)
    return serverVersion(client)
  })
  const direct: Endpoint = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
  }
  progress(`pgbench -i -s ${scale} into ${database}`)
  await initPgbench(direct, scale)

  const dbUrl = databaseUrlFor(adminUrl, database)
  const children: ProxyChild[] = []
  const counts: TelemetryCounts[] = []
  const runs: { round: number; target: Target; result: PgbenchResult }[] = []
  try {
    const plain = await startProxyChild(dbUrl)
    children.push(plain)
    const endpoints = { direct, proxy: { ...direct, host: '127.0.0.1', port: plain.port } } as Record<Target, Endpoint>
    for (const [target, agents] of Object.entries(AGENT_TARGETS)) {
      const child = await startProxyChild(dbUrl, 30_000, { BENCH_PROXY_AGENTS: agents })
      children.push(child)
      endpoints[target as Target] = { ...direct, host: '127.0.0.1', port: child.port }
      progress(`${target}: pid ${child.pid}`)
    }
    for (const target of TARGETS)
      await runPgbench({ endpoint: endpoints[target], mode: 'simple', clients, threads, seconds: 3, samplingRate })
    for (let round = 1; round <= rounds; round++) {
      for (const target of TARGETS) {
        const result = await runPgbench({
          endpoint: endpoints[target],
          mode: 'simple',
          clients,
          threads,
          seconds,
          samplingRate,
        })
        runs.push({ round, target, result })
        progress(
          `round ${round}/${rounds} ${target}: ${result.ok ? `${result.tps?.toFixed(0)} tps, p99 ${result.p99Ms?.toFixed(3)} ms` : `FAILED ${result.error}`}`,
        )
      }
    }
  } finally {
    for (const child of children.reverse()) counts.unshift(await child.stop())
  }

  const summary = TARGETS.map((target) => {
    const mine = runs.filter((r) => r.target === target && r.result.ok).map((r) => r.result)
    return {
      target,
      runs: mine.length,
      tps: median(mine.map((r) => r.tps)),
      p50Ms: median(mine.map((r) => r.p50Ms)),
      p95Ms: median(mine.map((r) => r.p95Ms)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
    }
  })
  const plainRow = summary.find((r) => r.target === 'proxy')
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : undefined)
  const ratios = summary
    .filter((r) => r.target in AGENT_TARGETS)
    .map((r) => ({
      target: r.target,
      p99: ratio(r.p99Ms, plainRow?.p99Ms),
      p95: ratio(r.p95Ms, plainRow?.p95Ms),
      p50: ratio(r.p50Ms, plainRow?.p50Ms),
      tps: ratio(r.tps, plainRow?.tps),
    }))
  // The children stop in reverse order of start; `counts` is in start order: plain, then AGENT_TARGETS'.
  const agents = counts.slice(1).flatMap((c) => c.agents ?? [])
  const now = new Date()
  const table = alignedTable(
    ['target', 'runs', 'tps', 'p50 ms', 'p95 ms', 'p99 ms'],
    [false, true, true, true, true, true],
    summary.map((r) => [
      r.target,
      String(r.runs),
      fixed(r.tps, 0),
      fixed(r.p50Ms, 3),
      fixed(r.p95Ms, 3),
      fixed(r.p99Ms, 3),
    ]),
  )
  const lines = [
    `# Agent overhead on the proxy, ${now.toISOString()}`,
    '',
    `Command: \`${command}\``,
    `Machine: ${JSON.stringify(describeMachine())}; PostgreSQL ${postgres}`,
    `pgbench -S (simple protocol), ${clients} clients, ${threads} threads, ${seconds} s per run, ${rounds} rounds interleaved; medians over rounds.`,
    '',
    table,
    '',
    ...ratios.map(
      (r) =>
        `${r.target} against the proxy alone: p50 ×${fixed(r.p50, 2)}, p95 ×${fixed(r.p95, 2)}, p99 ×${fixed(r.p99, 2)}, tps ×${fixed(r.tps, 2)}.`,
    ),
    `Agents: ${agents.map((a) => `${a.name} handled ${a.seen} events and dropped ${a.dropped}`).join('; ') || 'no counts reported'}.`,
  ]
  const report = {
    date: now.toISOString(),
    command,
    machine: describeMachine(),
    postgres,
    summary,
    ratios,
    agents,
    runs,
  }
  const stamp = now.toISOString().slice(0, 16).replace(/:/g, '').replace('T', '-')
  const dir = fileURLToPath(new URL('../results/', import.meta.url))
  await mkdir(dir, { recursive: true })
  await writeFile(`${dir}agents-${stamp}.json`, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(`${dir}agents-${stamp}.md`, `${lines.join('\n')}\n`)
  console.log(lines.join('\n'))
}

main().catch((err: unknown) => {
  console.error(`bench:agents: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
})
