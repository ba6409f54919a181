import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Machine } from './machine.js'
import { alignedTable, fixed } from './markdown-table.js'
import type { PgbenchResult, QueryMode } from './pgbench.js'

/** In the order they run in, each round and mode. */
export const TARGETS = ['direct', 'nodepipe', 'cairn', 'pgbouncer'] as const
export type Target = (typeof TARGETS)[number]
export const MODES: readonly QueryMode[] = ['simple', 'prepared']

const TARGET_NAMES: Record<Target, string> = {
  direct: 'PostgreSQL (direct)',
  nodepipe: 'Node TCP pipe',
  cairn: 'Cairn proxy',
  pgbouncer: 'PgBouncer',
}

/** One pgbench run against one target. */
export interface RunRecord {
  round: number
  target: Target
  mode: QueryMode
  result: PgbenchResult
  /**
   * CPU of what stands between pgbench and PostgreSQL (Cairn's proxy, PgBouncer, or the Node pipe with all its
   * processes summed) during the run, in % of one core.
   */
  poolerCpuPct: number | undefined
  /** CPU of the whole machine during the run, in % of all cores. */
  hostCpuPct: number
}

/** The medians of one target and mode over the rounds that succeeded. */
export interface SummaryRow {
  target: Target
  mode: QueryMode
  runs: number
  ok: number
  tps: number | undefined
  latencyAvgMs: number | undefined
  p95Ms: number | undefined
  poolerCpuPct: number | undefined
  /** Pooler CPU time per transaction, in µs: what the pooler costs on a machine whose cores are all busy. */
  poolerCpuUsPerTx: number | undefined
  /** Median TPS over direct PostgreSQL's, same mode. */
  vsDirect: number | undefined
  /** Cairn's median TPS over the Node pipe's, same mode (Cairn rows only). */
  cairnVsNodePipe: number | undefined
  /** Cairn's median TPS over PgBouncer's, same mode (Cairn rows only). */
  cairnVsPgbouncer: number | undefined
  /** The failed runs' errors, one per kind (errors differing only in their counts are one kind), with how often. */
  errors: string[]
}

export interface BenchReport {
  date: string
  command: string
  settings: {
    seconds: number
    rounds: number
    warmupSeconds: number
    clients: number
    threads: number
    scale: number
    samplingRate: number
    poolSize: number
    /** Processes of the Node pipe: 1, or that many node:cluster workers (BENCH_PIPE_WORKERS). */
    pipeWorkers: number
    database: string
  }
  machine: Machine & { postgres: string; pgbouncer: string }
  telemetry: { sink: string; records: number | undefined; events?: number | undefined; proxiedTransactions: number }
  summary: SummaryRow[]
  runs: RunRecord[]
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const upper = sorted[mid] ?? 0
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? 0) + upper) / 2
}

function defined(values: readonly (number | undefined)[]): number[] {
  return values.filter((v): v is number => v !== undefined)
}

function distinctErrors(runs: readonly RunRecord[]): string[] {
  const kinds = new Map<string, { first: string; runs: number }>()
  for (const { result } of runs) {
    if (!result.error) continue
    const key = result.error.replace(/\d+/g, 'N')
    const kind = kinds.get(key)
    if (kind) kind.runs++
    else kinds.set(key, { first: result.error, runs: 1 })
  }
  return [...kinds.values()].map((k) =>
    k.runs > 1 ? `${k.first} (the like in ${k.runs} of ${runs.length} runs)` : k.first,
  )
}

export function summarize(runs: readonly RunRecord[]): SummaryRow[] {
  const rows: SummaryRow[] = []
  for (const mode of MODES) {
    for (const target of TARGETS) {
      const mine = runs.filter((r) => r.target === target && r.mode === mode)
      const ok = mine.filter((r) => r.result.ok)
      rows.push({
        target,
        mode,
        runs: mine.length,
        ok: ok.length,
        tps: median(defined(ok.map((r) => r.result.tps))),
        latencyAvgMs: median(defined(ok.map((r) => r.result.latencyAvgMs))),
        p95Ms: median(defined(ok.map((r) => r.result.p95Ms))),
        poolerCpuPct: median(defined(ok.map((r) => r.poolerCpuPct))),
        poolerCpuUsPerTx: median(
          defined(ok.map((r) => (r.poolerCpuPct && r.result.tps ? (r.poolerCpuPct * 1e4) / r.result.tps : undefined))),
        ),
        vsDirect: undefined,
        cairnVsNodePipe: undefined,
        cairnVsPgbouncer: undefined,
        errors: distinctErrors(mine),
      })
    }
  }
  const tps = (target: Target, mode: QueryMode) => rows.find((r) => r.target === target && r.mode === mode)?.tps
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : undefined)
  for (const row of rows) {
    row.vsDirect = ratio(row.tps, tps('direct', row.mode))
    if (row.target !== 'cairn') continue
    row.cairnVsNodePipe = ratio(row.tps, tps('nodepipe', row.mode))
    row.cairnVsPgbouncer = ratio(row.tps, tps('pgbouncer', row.mode))
  }
  return rows
}

/** The target's name in the table; the Node pipe's says how many workers it ran with when more than one. */
export function targetName(target: Target, pipeWorkers = 1): string {
  return target === 'nodepipe' && pipeWorkers > 1
    ? `${TARGET_NAMES[target]} (${pipeWorkers} workers)`
    : TARGET_NAMES[target]
}

export function markdownTable(rows: readonly SummaryRow[], pipeWorkers = 1): string {
  const header = [
    'target',
    'mode',
    'median TPS',
    'avg latency ms',
    'p95 ms',
    'TPS vs direct',
    'TPS Cairn / Node pipe',
    'TPS Cairn / PgBouncer',
    'pooler CPU %',
    'pooler CPU µs/tx',
    'ok runs',
  ]
  const cells = rows.map((r) => [
    targetName(r.target, pipeWorkers),
    r.mode,
    r.tps === undefined ? 'failed' : r.tps.toFixed(0),
    fixed(r.latencyAvgMs, 3),
    fixed(r.p95Ms, 3),
    fixed(r.vsDirect, 2),
    fixed(r.cairnVsNodePipe, 2),
    fixed(r.cairnVsPgbouncer, 2),
    fixed(r.poolerCpuPct, 0),
    fixed(r.poolerCpuUsPerTx, 0),
    `${r.ok}/${r.runs}`,
  ])
  return alignedTable(
    header,
    header.map((_, i) => i >= 2),
    cells,
  )
}

function pipeProcesses(workers: number): string {
  return workers > 1
    ? `a node:cluster primary with ${workers} workers on one port (connections handed out round-robin),`
    : 'one Node process'
}

function hostCpuRange(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return '–'
  const values = runs.map((r) => r.hostCpuPct)
  return `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} %`
}

export function markdownReport(report: BenchReport): string {
  const { settings: s, machine: m } = report
  const failures = report.summary.filter((r) => r.errors.length > 0)
  const lines = [
    `# Proxy benchmark, ${report.date}`,
    '',
    `\`${report.command}\``,
    '',
    `pgbench -S (select-only, built-in script) on a scale-${s.scale} database (\`${s.database}\`), ` +
      `${s.clients} clients, ${s.threads} threads, ${s.seconds} s per run, ${s.rounds} round(s) run interleaved ` +
      `(direct, Node pipe, Cairn, PgBouncer for simple, then the same for prepared), median per target and mode. ` +
      `Both poolers: transaction mode, pool size ${s.poolSize}, SCRAM. p95 from pgbench's per-transaction log ` +
      `(sampling rate ${s.samplingRate}). ${s.warmupSeconds} s warm-up per target before the first round, not counted.`,
    '',
    `Node TCP pipe: ${pipeProcesses(s.pipeWorkers)} copying bytes between each client and a PostgreSQL ` +
      'connection of its own (`client.pipe(server); server.pipe(client)`, no Nagle), with no parsing, pooling or ' +
      'logic at all; PostgreSQL does the SCRAM login itself. It is how fast Node forwards these bytes, the ceiling ' +
      'for a proxy on Node sockets, not a pooler (one server connection per client); "TPS Cairn / Node pipe" is ' +
      'how much of that ceiling Cairn reaches.',
    '',
    `Machine: ${m.nproc} × ${m.cpuModel} (nproc ${m.nproc}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; ` +
      `PostgreSQL ${m.postgres}; PgBouncer ${m.pgbouncer}. pgbench, PostgreSQL and the pooler share these cores.`,
    '',
    markdownTable(report.summary, s.pipeWorkers),
    '',
    '"pooler CPU %" is the CPU time of what stands between pgbench and PostgreSQL (the Cairn proxy, PgBouncer, or ' +
      'the Node pipe with its primary and workers summed) over the run, in % of one core (each process is one event ' +
      'loop, so near 100 for one process means it is CPU-bound); "pooler CPU µs/tx" divides it by the TPS. ' +
      'Machine-wide CPU use per run is in the JSON (`runs[].hostCpuPct`).',
    '',
    `Whole machine CPU busy during the runs: ${hostCpuRange(report.runs)}.`,
    '',
    `Telemetry: ${report.telemetry.sink}; ${report.telemetry.records ?? 'unknown'} statement records` +
      (report.telemetry.events === undefined ? '' : ` and ${report.telemetry.events} query events`) +
      ` for ${report.telemetry.proxiedTransactions} pgbench transactions through the proxy (warm-up included).`,
  ]
  if (failures.length > 0) {
    lines.push('', 'Failed runs:', '')
    for (const r of failures) {
      lines.push(`- ${targetName(r.target, s.pipeWorkers)}, ${r.mode}: ${r.errors.join(' / ')}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** Writes `proxy-<stamp>.json` and `proxy-<stamp>.md` into `dir`; returns their paths. */
export async function writeReport(dir: string, stamp: string, report: BenchReport): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const json = join(dir, `proxy-${stamp}.json`)
  const md = join(dir, `proxy-${stamp}.md`)
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(md, markdownReport(report))
  return [json, md]
}
