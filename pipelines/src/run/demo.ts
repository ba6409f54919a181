import type { Logger } from '@cairn/core'
import type pg from 'pg'
import { BronzeLoader } from '../bronze/bronze-loader.js'
import { type GeneratorOptions, resolveGeneratorOptions } from '../generator/generator-options.js'
import { type GoldRunResult, runGold } from '../gold/gold-step.js'
import { silverTables } from '../silver/tables/index.js'
import { generatorSource } from '../sources/generator-source.js'
import { type RunSourceResult, runSource } from '../sources/run-source.js'
import { runSilver, type SilverRunResult } from './silver-run.js'

export interface DemoProgress {
  readonly phase: 'bronze' | 'silver' | 'gold'
  readonly done: number
  readonly total: number
  /** Rows added to bronze so far, or read by silver so far. */
  readonly rows: number
}

export interface DemoResult {
  readonly bronze: RunSourceResult
  readonly silver: SilverRunResult
  readonly gold: GoldRunResult
  /** Rows per table in bronze and silver after the run (silver SCD2 tables: current rows). */
  readonly tables: readonly { table: string; bronze: number; silver: number }[]
  /** Rows quarantined in this run, per table and rule. */
  readonly quarantined: readonly { table: string; rule: string; rows: number }[]
  readonly ms: { bronze: number; silver: number; gold: number }
}

/**
 * The demo data set end to end: the generator source into bronze (COPY), then the
 * silver run, then gold. Loading the same options again adds nothing (the generator's batch
 * ids are stable), so `cairn demo` is safe to repeat and resumes after a crash.
 */
export async function runDemo(
  pool: pg.Pool,
  generator: GeneratorOptions,
  options: { log: Logger; onProgress?: (p: DemoProgress) => void },
): Promise<DemoResult> {
  const resolved = resolveGeneratorOptions(generator)
  const parts = Math.ceil(resolved.days / resolved.partDays)
  const loader = new BronzeLoader(pool)
  let rows = 0
  const t0 = performance.now()
  const bronze = await runSource(loader, generatorSource, generator, {
    instance: 'demo',
    log: options.log,
    onBatch: (batch, result) => {
      rows += result.rows
      const part = Number(/part (\d+)/.exec(batch.position ?? '')?.[1] ?? 0)
      options.onProgress?.({ phase: 'bronze', done: part + 1, total: parts, rows })
    },
  })
  const t1 = performance.now()
  let silverRows = 0
  let steps = 0
  options.onProgress?.({ phase: 'silver', done: 0, total: silverTables.length, rows: 0 })
  const silver = await runSilver(pool, {
    log: options.log,
    onStep: (step) => {
      silverRows += step.read
      options.onProgress?.({ phase: 'silver', done: ++steps, total: silverTables.length, rows: silverRows })
    },
  })
  const t2 = performance.now()
  options.onProgress?.({ phase: 'gold', done: 0, total: 1, rows: 0 })
  const gold = await runGold(pool)
  options.onProgress?.({ phase: 'gold', done: 1, total: 1, rows: gold.orders })
  const t3 = performance.now()
  const tables = []
  for (const t of silverTables) {
    const current = t.mode.kind === 'scd2' ? ' WHERE is_current' : ''
    const { rows: counts } = await pool.query<{ bronze: number; silver: number }>(
      `SELECT (SELECT count(*) FROM bronze.${t.bronze})::int AS bronze, (SELECT count(*) FROM silver.${t.name}${current})::int AS silver`,
    )
    tables.push({ table: t.name, bronze: counts[0]?.bronze ?? 0, silver: counts[0]?.silver ?? 0 })
  }
  const { rows: quarantined } = await pool.query<{ table: string; rule: string; rows: number }>(
    `SELECT table_name AS table, rule, count(*)::int AS rows FROM cairn_meta.quarantine WHERE run_id = $1
     GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2`,
    [silver.runId],
  )
  return {
    bronze,
    silver,
    gold,
    tables,
    quarantined,
    ms: { bronze: Math.round(t1 - t0), silver: Math.round(t2 - t1), gold: Math.round(t3 - t2) },
  }
}
