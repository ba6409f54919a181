/**
 * Index-advisor benchmark: the demo data loaded through Cairn's pipeline and
 * left with primary keys and unique indexes only; the demo analytic workload
 * run through Cairn's proxy (cache off, telemetry persisted) before and after
 * each contender's indexes: Cairn's loop (the index advisor proposes, the
 * actuator applies, verifies by replay, keeps or rolls back), a Dexter-style
 * advisor, and one index on every predicate column. Writes
 * results/indexes-<stamp>.{json,md} and prints the report.
 *
 *   npm run bench:indexes -w @cairn/bench
 *
 * Settings (environment): BENCH_INDEX_ORDERS (1000000), BENCH_INDEX_DATA_SEED (42), BENCH_INDEX_DATABASE
 * (cairn_index_bench), BENCH_INDEX_RELOAD (0; 1 drops and loads the data again), BENCH_INDEX_STATEMENTS (1000),
 * BENCH_INDEX_SEED (7), BENCH_INDEX_CLIENTS (1), BENCH_INDEX_WARMUP (25), BENCH_INDEX_STATEMENT_TIMEOUT_MS (60000),
 * BENCH_INDEX_BUDGET_FRACTION (0.25), BENCH_INDEX_LOOP_SECONDS (3600), BENCH_PROXY_LOG_LEVEL (warn).
 */
import { fileURLToPath } from 'node:url'
import { loadWorkloadDomain } from '@cairn/pipelines'
import pg from 'pg'
import { numericSetting, progress, settingsInEffect } from './bench-settings.js'
import { serverVersion, withClient } from './database.js'
import { type BuiltIndex, buildIndexes, everyPredicateColumn } from './index-bench-baselines.js'
import { type CairnLoopResult, runCairnLoop } from './index-bench-cairn.js'
import { capturedStatements } from './index-bench-captured.js'
import { ensureIndexBenchDataset, prewarmWarehouse, withoutStatementTimeout } from './index-bench-dataset.js'
import { type DexterAdvice, dexterStyleAdvice } from './index-bench-dexter.js'
import { dropSecondaryIndexes, type SecondaryIndex, secondaryIndexes } from './index-bench-indexes.js'
import { indexesInPlans } from './index-bench-plans.js'
import { type IndexBenchProxy, startIndexBenchProxy } from './index-bench-proxy.js'
import {
  type ContenderReport,
  type IndexBenchReport,
  type IndexBenchSettings,
  reportMarkdown,
  writeIndexBenchReport,
} from './index-bench-report.js'
import { evaluateGoals, summarizeContender } from './index-bench-summary.js'
import { awaitQueryEvents, runWorkloadPass, type WorkloadPass, type WorkloadSettings } from './index-bench-workload.js'
import { describeMachine } from './machine.js'
import { servicesUp } from './services.js'

const SETTINGS_ENV = [
  'BENCH_INDEX_ORDERS',
  'BENCH_INDEX_DATA_SEED',
  'BENCH_INDEX_DATABASE',
  'BENCH_INDEX_RELOAD',
  'BENCH_INDEX_STATEMENTS',
  'BENCH_INDEX_SEED',
  'BENCH_INDEX_CLIENTS',
  'BENCH_INDEX_WARMUP',
  'BENCH_INDEX_STATEMENT_TIMEOUT_MS',
  'BENCH_INDEX_BUDGET_FRACTION',
  'BENCH_INDEX_LOOP_SECONDS',
] as const

const log = progress
const whole = (name: (typeof SETTINGS_ENV)[number], fallback: number, least = 0) =>
  Math.max(least, Math.floor(numericSetting(name, fallback)))

function describePass(pass: WorkloadPass): string {
  const failed = pass.failures
    ? `, ${pass.failures} failed (${pass.templates.find((t) => t.firstError)?.firstError ?? ''})`
    : ''
  return `${pass.label}: ${pass.statements} statements, ${(pass.totalMs / 1000).toFixed(1)} s${failed}`
}

/** Runs a pass through the proxy and waits until its query events are written. */
async function measuredPass(
  proxy: IndexBenchProxy,
  db: pg.Pool,
  label: string,
  workload: WorkloadSettings,
): Promise<WorkloadPass> {
  log(`${label}: ${workload.statements} statements through the proxy`)
  await prewarmWarehouse(db)
  const pass = await runWorkloadPass(proxy.url, label, workload)
  log(describePass(pass))
  const events = await awaitQueryEvents(db, pass.startedAt, pass.statements)
  if (events < pass.statements) log(`${label}: only ${events} of ${pass.statements} query events were written`)
  return pass
}

/**
 * The contender's before and after compared, each regression with the
 * contender's indexes its plans use (explained while they are in place).
 */
async function compared(
  db: pg.Pool,
  name: string,
  before: WorkloadPass,
  after: WorkloadPass,
  indexes: SecondaryIndex[],
  setupMs: number,
): Promise<ContenderReport> {
  const summary = summarizeContender(name, before, after, indexes)
  const used = await indexesInPlans(
    db,
    after,
    summary.regressions.map((r) => r.template),
    new Set(indexes.map((i) => i.name)),
  )
  const regressions = summary.regressions.map((r) => ({ ...r, planIndexes: used.get(r.template) ?? null }))
  return { summary: { ...summary, regressions }, before, after, indexes, setupMs }
}

async function main(): Promise<void> {
  const database = process.env.BENCH_INDEX_DATABASE || 'cairn_index_bench'
  const settings: Omit<IndexBenchSettings, 'budgetBytes'> = {
    orders: whole('BENCH_INDEX_ORDERS', 1_000_000, 1),
    dataSeed: whole('BENCH_INDEX_DATA_SEED', 42),
    database,
    statements: whole('BENCH_INDEX_STATEMENTS', 1000, 1),
    seed: whole('BENCH_INDEX_SEED', 7),
    clients: whole('BENCH_INDEX_CLIENTS', 1, 1),
    warmup: whole('BENCH_INDEX_WARMUP', 25),
    statementTimeoutMs: whole('BENCH_INDEX_STATEMENT_TIMEOUT_MS', 60_000, 1),
    budgetFraction: numericSetting('BENCH_INDEX_BUDGET_FRACTION', 0.25),
    loopSeconds: whole('BENCH_INDEX_LOOP_SECONDS', 3600, 1),
  }
  const reload = numericSetting('BENCH_INDEX_RELOAD', 0) > 0
  const command = [...settingsInEffect(SETTINGS_ENV), 'npm run bench:indexes -w @cairn/bench'].join(' ')
  const benchStarted = Date.now()

  log('starting PostgreSQL (scripts/services.sh up)')
  const adminUrl = await servicesUp()
  const postgres = await withClient(adminUrl, serverVersion)
  const dataset = await ensureIndexBenchDataset({
    adminUrl,
    database,
    orders: settings.orders,
    seed: settings.dataSeed,
    reload,
  })
  const budgetBytes = Math.floor(settings.budgetFraction * dataset.warehouseBytes)
  log(
    `warehouse ${(dataset.warehouseBytes / 1_048_576).toFixed(1)} MiB; storage budget ${(budgetBytes / 1_048_576).toFixed(1)} MiB`,
  )

  // The bench's own connections: no statement timeout (builds, the actuator's DDL and replays set their own).
  const db = new pg.Pool({
    connectionString: dataset.url,
    max: 6,
    ...withoutStatementTimeout,
    application_name: 'cairn index bench',
  })
  db.on('error', () => {})
  let proxy: IndexBenchProxy | undefined
  const quoted = pg.escapeIdentifier(database)
  const cleanUp = async () => {
    await proxy?.stop().catch(() => {})
    proxy = undefined
    await db.query(`ALTER DATABASE ${quoted} RESET statement_timeout`).catch(() => {})
  }
  const onSignal = () => {
    log('interrupted; stopping the proxy')
    void cleanUp().then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const contenders: ContenderReport[] = []
  let cairn: CairnLoopResult
  let dexter: { advice: DexterAdvice; built: BuiltIndex[] }
  let everyColumn: { built: BuiltIndex[] }
  try {
    // Every statement of the workload is bounded: the database's default for new sessions, so also for the
    // proxy's server connections; a statement past it fails with 57014 and is counted as failed.
    await db.query(`ALTER DATABASE ${quoted} SET statement_timeout = ${Number(settings.statementTimeoutMs)}`)
    const workload: WorkloadSettings = {
      statements: settings.statements,
      seed: settings.seed,
      clients: settings.clients,
      warmup: settings.warmup,
      domain: await loadWorkloadDomain(db),
    }
    proxy = await startIndexBenchProxy(dataset.url)
    log(`Cairn's proxy on ${new URL(proxy.url).port} (pid ${proxy.pid}), result cache off, telemetry persisted`)

    // 1. Cairn: a clean slate of telemetry and actions, then the loop between the passes.
    await db.query(
      `TRUNCATE cairn_meta.query_events, cairn_meta.action_audit, cairn_meta.action_verdicts, cairn_meta.actions,
                cairn_meta.index_usage, cairn_meta.findings`,
    )
    await dropSecondaryIndexes(db)
    const cairnBefore = await measuredPass(proxy, db, 'Cairn, before', workload)
    const loopSeconds = settings.loopSeconds
    log(`Cairn's loop: advise → propose → apply and verify, for at most ${loopSeconds} s`)
    cairn = await runCairnLoop({
      databaseUrl: dataset.url,
      pool: db,
      budgetBytes,
      deadline: Date.now() + loopSeconds * 1000,
      replayStatementTimeoutMs: settings.statementTimeoutMs,
    })
    log(`Cairn's loop took ${(cairn.loopMs / 1000).toFixed(0)} s and stopped because ${cairn.stoppedBecause}`)
    const cairnIndexes = await secondaryIndexes(db)
    const cairnAfter = await measuredPass(proxy, db, 'Cairn, after', workload)
    contenders.push(await compared(db, 'Cairn', cairnBefore, cairnAfter, cairnIndexes, cairn.loopMs))

    // 2. The Dexter-style advisor, from the query log of its own before pass.
    await dropSecondaryIndexes(db)
    const dexterBefore = await measuredPass(proxy, db, 'Dexter-style, before', workload)
    const dexterStarted = performance.now()
    const dexterClient = await db.connect()
    try {
      const advice = await dexterStyleAdvice(
        dexterClient,
        await capturedStatements(db, dexterBefore.startedAt, dexterBefore.endedAt + 1000),
      )
      log(`Dexter-style: ${advice.suggestions.length} indexes suggested from ${advice.queries} statements`)
      dexter = { advice, built: await buildIndexes(dexterClient, advice.suggestions, 'dexter') }
    } finally {
      dexterClient.release()
    }
    const dexterMs = performance.now() - dexterStarted
    const dexterIndexes = await secondaryIndexes(db)
    const dexterAfter = await measuredPass(proxy, db, 'Dexter-style, after', workload)
    contenders.push(await compared(db, 'Dexter-style', dexterBefore, dexterAfter, dexterIndexes, dexterMs))

    // 3. One index on every predicate column.
    await dropSecondaryIndexes(db)
    const everyBefore = await measuredPass(proxy, db, 'every predicate column, before', workload)
    const everyStarted = performance.now()
    const specs = everyPredicateColumn(await capturedStatements(db, everyBefore.startedAt, everyBefore.endedAt + 1000))
    log(`every predicate column: ${specs.length} columns`)
    const everyClient = await db.connect()
    try {
      everyColumn = { built: await buildIndexes(everyClient, specs, 'every') }
    } finally {
      everyClient.release()
    }
    const everyMs = performance.now() - everyStarted
    const everyIndexes = await secondaryIndexes(db)
    const everyAfter = await measuredPass(proxy, db, 'every predicate column, after', workload)
    contenders.push(await compared(db, 'every predicate column', everyBefore, everyAfter, everyIndexes, everyMs))
    // Left as it was found: primary keys and unique indexes only.
    await dropSecondaryIndexes(db)
  } finally {
    await cleanUp()
    await db.end()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const [cairnSummary, ...baselines] = contenders.map((c) => c.summary)
  if (!cairnSummary) throw new Error('no contender ran')
  const now = new Date()
  const { url: _url, ...datasetReport } = dataset
  const report: IndexBenchReport = {
    date: now.toISOString(),
    command,
    settings: { ...settings, budgetBytes },
    machine: { ...describeMachine(), postgres },
    dataset: datasetReport,
    contenders,
    cairn,
    dexter,
    everyColumn,
    goals: evaluateGoals(cairnSummary, baselines),
  }
  const stamp = now.toISOString().slice(0, 16).replace(/:/g, '').replace('T', '-')
  const files = await writeIndexBenchReport(fileURLToPath(new URL('../results/', import.meta.url)), stamp, report)
  console.log(reportMarkdown(report))
  console.log(`Wrote ${files.join(' and ')} (${((Date.now() - benchStarted) / 60_000).toFixed(1)} min in all)`)
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
})
