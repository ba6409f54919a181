import { connectPostgres, type Logger, loadConfig, migrate } from '@cairn/core'
import { type DemoProgress, runDemo, writeFiles } from '@cairn/pipelines'
import { migrationsDir } from '@cairn/sql'
import cliProgress from 'cli-progress'
import pg from 'pg'
import { openDatabase } from '../open-database.js'
import { textTable } from './text-table.js'

export interface DemoCommandOptions {
  readonly orders: number
  readonly seed: number
  readonly days: number
  readonly dirt: boolean
  readonly out?: string
  readonly format: 'csv' | 'jsonl'
}

/**
 * `cairn demo`: generates the e-commerce data set and loads it through bronze and
 * silver, with a progress bar and a summary; or, with `--out`, writes it as files.
 */
export async function demoCommand(logger: Logger, options: DemoCommandOptions): Promise<number> {
  const generator = {
    orders: options.orders,
    seed: options.seed,
    days: options.days,
    ...(options.dirt ? {} : { dirt: 'none' as const }),
  }
  if (options.out) {
    const written = await writeFiles(generator, options.out, { format: options.format, parts: 'split' })
    process.stdout.write(
      `${textTable(
        ['entity', 'records', 'dirty'],
        Object.entries(written.records).map(([entity, n]) => [
          entity,
          n,
          Object.values(written.dirt[entity as keyof typeof written.dirt]).reduce((a, b) => a + (b ?? 0), 0),
        ]),
      )}\n\n${written.files.length} files in ${options.out} (${(written.ms / 1000).toFixed(1)} s)\n`,
    )
    return 0
  }
  const config = loadConfig()
  const db = await openDatabase(config, logger)
  const pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'cairn-demo' })
  const bar = new cliProgress.SingleBar(
    {
      format: ' {phase} [{bar}] {value}/{total} {unit} | {rows} rows | {duration_formatted}',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let phase: DemoProgress['phase'] | undefined
  try {
    const client = await connectPostgres(db.url)
    try {
      await migrate(client, migrationsDir)
    } finally {
      await client.end()
    }
    const result = await runDemo(pool, generator, {
      log: logger,
      onProgress: (p) => {
        const payload = {
          phase: p.phase.padEnd(6),
          unit: { bronze: 'parts', silver: 'tables', gold: 'step' }[p.phase],
          rows: p.rows.toLocaleString('en-US'),
        }
        if (p.phase !== phase) {
          if (phase) bar.stop()
          phase = p.phase
          bar.start(p.total, p.done, payload)
        } else {
          bar.update(p.done, payload)
        }
      },
    })
    bar.stop()
    const steps = new Map(result.silver.steps.map((s) => [s.table, s]))
    const out = [
      textTable(
        ['table', 'bronze rows', 'read', 'written', 'quarantined', 'duplicates', 'silver rows'],
        result.tables.map((t) => {
          const s = steps.get(t.table)
          return [t.table, t.bronze, s?.read ?? 0, s?.written ?? 0, s?.quarantined ?? 0, s?.duplicates ?? 0, t.silver]
        }),
      ),
      '',
      result.quarantined.length
        ? textTable(
            ['quarantined by', 'rule', 'rows'],
            result.quarantined.map((q) => [q.table, q.rule, q.rows]),
          )
        : 'nothing quarantined',
      '',
      `bronze: ${result.bronze.rows.toLocaleString('en-US')} rows in ${result.bronze.loaded} new batches (${(result.ms.bronze / 1000).toFixed(1)} s)` +
        (result.bronze.skipped ? `, ${result.bronze.skipped} batches already loaded` : ''),
      `silver: run ${result.silver.runId}, ${(result.ms.silver / 1000).toFixed(1)} s; silver.dim_date +${result.silver.datesAdded} days`,
      `gold: ${result.gold.dates} days, ${result.gold.customers} customers, ${result.gold.products} products, ${result.gold.sessionDates} funnel days (${(result.ms.gold / 1000).toFixed(1)} s)`,
      `database: ${db.mode}${db.mode === 'embedded' ? ` (data dir ${config.dataDir})` : ''}`,
    ]
    process.stdout.write(`${out.join('\n')}\n`)
    return 0
  } finally {
    bar.stop()
    await pool.end()
    await db.close()
  }
}
