import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BuiltIndex } from './index-bench-baselines.js'
import type { CairnLoopResult } from './index-bench-cairn.js'
import type { Dataset } from './index-bench-dataset.js'
import type { DexterAdvice } from './index-bench-dexter.js'
import type { SecondaryIndex } from './index-bench-indexes.js'
import { type ContenderSummary, describeRegression, type GoalResult } from './index-bench-summary.js'
import type { WorkloadPass } from './index-bench-workload.js'
import type { Machine } from './machine.js'
import { alignedTable } from './markdown-table.js'

export interface IndexBenchSettings {
  orders: number
  dataSeed: number
  database: string
  statements: number
  seed: number
  clients: number
  warmup: number
  statementTimeoutMs: number
  budgetFraction: number
  budgetBytes: number
  loopSeconds: number
}

/** One contender: its passes, what it built, and what it left in place. */
export interface ContenderReport {
  summary: ContenderSummary
  before: WorkloadPass
  after: WorkloadPass
  /** The secondary indexes in place for the after pass. */
  indexes: SecondaryIndex[]
  /** Time to decide and build (Cairn: the whole loop). */
  setupMs: number
}

export interface IndexBenchReport {
  date: string
  command: string
  settings: IndexBenchSettings
  machine: Machine & { postgres: string }
  dataset: Omit<Dataset, 'url'>
  contenders: ContenderReport[]
  cairn: CairnLoopResult
  dexter: { advice: DexterAdvice; built: BuiltIndex[] }
  everyColumn: { built: BuiltIndex[] }
  goals: GoalResult[]
}

const s = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1)
const mib = (bytes: number | null) => (bytes === null ? '–' : (bytes / 1_048_576).toFixed(1))
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '∞')
const clip = (text: string | null, n = 160) => {
  const one = (text ?? '').replace(/\s+/g, ' ').replace(/\|/g, '\\|')
  return one.length > n ? `${one.slice(0, n - 1)}…` : one
}
const table = (header: string[], right: boolean[], rows: string[][]) => alignedTable(header, right, rows)

/** Total workload time before and after each contender, its storage, and its regressions. */
export function contenderTable(report: IndexBenchReport): string {
  return table(
    [
      'contender',
      'indexes',
      'storage MiB',
      'before s',
      'after s',
      'speed-up',
      'failed before',
      'failed after',
      'regressions',
      'setup s',
    ],
    [false, true, true, true, true, true, true, true, true, true],
    report.contenders.map(({ summary: c, setupMs }) => [
      c.name,
      String(c.indexes),
      mib(c.storageBytes),
      s(c.beforeMs),
      s(c.afterMs),
      times(c.speedup),
      String(c.failuresBefore),
      String(c.failuresAfter),
      String(c.regressions.length),
      s(setupMs),
    ]),
  )
}

/** Per template, each contender's total ms before and after. */
export function templateTable(report: IndexBenchReport): string {
  const names = report.contenders[0]?.summary.templates.map((t) => t.template) ?? []
  const header = ['template', 'calls']
  for (const c of report.contenders) header.push(`${c.summary.name} before ms`, `${c.summary.name} after ms`)
  const rows = names.map((name) => {
    const row = [name, String(report.contenders[0]?.summary.templates.find((t) => t.template === name)?.calls ?? 0)]
    for (const c of report.contenders) {
      const t = c.summary.templates.find((x) => x.template === name)
      const mark = (ms: number | undefined, failures: number | undefined) =>
        ms === undefined ? '–' : `${ms.toFixed(0)}${failures ? ` (${failures} failed)` : ''}`
      const regressed = c.summary.regressions.some((r) => r.template === name)
      row.push(mark(t?.beforeMs, t?.failuresBefore), `${mark(t?.afterMs, t?.failuresAfter)}${regressed ? ' ⚠' : ''}`)
    }
    return row
  })
  return table(
    header,
    header.map((_, i) => i > 0),
    rows,
  )
}

/** The actuator's actions in Cairn's loop: kept, rolled back, refused or failed, and why. */
export function actionTable(cairn: CairnLoopResult): string {
  if (cairn.actions.length === 0) return 'No action was proposed to the actuator.'
  return table(
    ['#', 'action', 'state', 'MiB', 'predicted ms/h', 'measured ms/h', 'ratio after/before', 'took s', 'reason'],
    [true, false, false, true, true, true, true, true, false],
    cairn.actions.map((a) => [
      a.id,
      clip(a.key, 90),
      a.state,
      mib(a.measuredSizeBytes ?? a.sizeBytes),
      a.predictedBenefitMsPerHour === null ? '–' : a.predictedBenefitMsPerHour.toFixed(0),
      a.measuredBenefitMsPerHour === null ? '–' : a.measuredBenefitMsPerHour.toFixed(0),
      a.weightedRatio === null ? '–' : a.weightedRatio.toFixed(3),
      a.durationMs === null ? '–' : s(a.durationMs),
      clip(a.reason, 300),
    ]),
  )
}

function indexList(indexes: readonly SecondaryIndex[]): string {
  if (indexes.length === 0) return '(none)'
  return indexes.map((i) => `- \`${i.definition}\` (${mib(i.bytes)} MiB)`).join('\n')
}

function skippedList(built: readonly BuiltIndex[]): string[] {
  return built.filter((b) => b.skipped).map((b) => `- not built: ${b.relation} (${b.columns.join(', ')}): ${b.skipped}`)
}

/** The whole report as Markdown. */
export function reportMarkdown(report: IndexBenchReport): string {
  const { settings: st, dataset: d, cairn, dexter } = report
  const m = report.machine
  const rowsLine = Object.entries(d.rows)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`)
    .join(', ')
  const lines = [
    `# Index advisor benchmark, ${report.date.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `\`${report.command}\``,
    '',
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB, kernel ${m.kernel}; Node ${m.node}; PostgreSQL ${m.postgres}.`,
    '',
    `Data: ${d.orders.toLocaleString('en-US')} orders (generator seed ${d.seed}) in \`${st.database}\`, ` +
      (d.reused
        ? `reused (loaded ${d.loadedAt})`
        : `loaded by this run through bronze → silver → gold${d.loadMs ? ` in ${s(d.loadMs.bronze + d.loadMs.silver + d.loadMs.gold)} s (bronze ${s(d.loadMs.bronze)}, silver ${s(d.loadMs.silver)}, gold ${s(d.loadMs.gold)})` : ''}`) +
      `. Warehouse (silver and gold, primary keys and unique indexes only): ${mib(d.warehouseBytes)} MiB. Rows: ${rowsLine}.`,
    '',
    `Workload: ${st.statements} statements of the demo analytic workload (seed ${st.seed}, ${st.clients} client${st.clients === 1 ? '' : 's'}), ` +
      `the same sequence in every pass, through Cairn's proxy with its result cache off and telemetry persisted; ` +
      `before each pass, the warehouse's tables and indexes read into the OS cache (pg_prewarm) and ${st.warmup} statements of another seed run, not counted; statement timeout ${s(st.statementTimeoutMs)} s (a timed-out statement counts as failed, with its time). ` +
      `Every contender starts from primary keys and unique indexes only and is measured before and after its indexes.`,
    '',
    `Storage budget: ${st.budgetFraction} of the warehouse = ${mib(st.budgetBytes)} MiB (Cairn's advisor and actuator). Cairn's loop time limit: ${st.loopSeconds} s.`,
    '',
    '## Results',
    '',
    contenderTable(report),
    '',
    '## Goals',
    '',
    ...report.goals.map((g) => `- **${g.met ? 'met' : 'not met'}**: ${g.goal}: ${g.detail}.`),
    '',
    '## Regressions',
    '',
    "Templates more than 10 % slower after a contender's indexes than before, and which of its indexes their plans use now (none: the plan is the one it ran before).",
    '',
    ...report.contenders.map(
      ({ summary: c }) =>
        `- ${c.name}: ${c.regressions.length === 0 ? 'none' : c.regressions.map((r) => describeRegression(r, c.name)).join('; ')}.`,
    ),
    '',
    '## Cairn',
    '',
    `The loop took ${s(cairn.loopMs)} s in ${cairn.rounds.length} round${cairn.rounds.length === 1 ? '' : 's'} and stopped because ${cairn.stoppedBecause}. ` +
      `Actions: ${cairn.actions.filter((a) => a.state === 'kept').length} kept, ${cairn.actions.filter((a) => a.state === 'rolled_back').length} rolled back, ` +
      `${cairn.actions.filter((a) => a.state === 'rejected').length} refused, ${cairn.actions.filter((a) => a.state === 'failed').length} failed.`,
    '',
    actionTable(cairn),
    '',
    ...cairn.rounds.map((r) => `- Round ${r.round} (advice in ${s(r.adviseMs)} s): ${clip(r.summary, 600)}`),
    '',
    'Indexes in place for the after pass:',
    '',
    indexList(report.contenders[0]?.indexes ?? []),
    '',
    '## Dexter-style baseline',
    '',
    `${dexter.advice.queries} distinct statements looked at (${dexter.advice.cheap} below the cost bar of 100, ${dexter.advice.noColumns} with no indexable column, ${dexter.advice.unexplained} not explainable${dexter.advice.firstError ? `: ${clip(dexter.advice.firstError)}` : ''}); ` +
      `${dexter.advice.explains} EXPLAINs in ${s(dexter.advice.analysisMs)} s; ${dexter.advice.suggestions.length} indexes suggested.`,
    '',
    indexList(report.contenders[1]?.indexes ?? []),
    ...skippedList(dexter.built),
    '',
    '## One index on every predicate column',
    '',
    indexList(report.contenders[2]?.indexes ?? []),
    ...skippedList(report.everyColumn.built),
    '',
    '## Per template',
    '',
    'Total ms per template in each pass (⚠: more than 10 % slower after than before).',
    '',
    templateTable(report),
    '',
    '## Indexes dropped before the run',
    '',
    d.droppedIndexes.length === 0
      ? '(none)'
      : d.droppedIndexes.map((i) => `- \`${i.definition}\` (${mib(i.bytes)} MiB)`).join('\n'),
    '',
  ]
  return lines.join('\n')
}

/** Writes indexes-<stamp>.json and .md into `dir`; returns their paths. */
export async function writeIndexBenchReport(dir: string, stamp: string, report: IndexBenchReport): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const json = join(dir, `indexes-${stamp}.json`)
  const md = join(dir, `indexes-${stamp}.md`)
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(md, reportMarkdown(report))
  return [json, md]
}
