/**
 * Pipeline throughput: Cairn's medallion pipeline (files → bronze → silver → gold) on a generated data set,
 * next to a floor on the same files, the same server and in the same run: a raw COPY of each file into an
 * untyped table, then one typed CREATE TABLE AS per entity with the silver column types (safe casts only).
 * Writes results/pipeline-throughput-<stamp>.{json,md} and prints the tables.
 *
 *   npm run bench:pipeline -w @cairn/bench -- --orders 1000000
 *
 * Options: --orders (100000), --format jsonl|csv (jsonl), --parts single|split (single), --seed (42),
 * --keep (keep the generated files). BENCH_PIPELINE_LOG_LEVEL (warn): Cairn's log, on stderr.
 */
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createLogger, migrate } from '@cairn/core'
import {
  BronzeLoader,
  type ColumnType,
  DEFAULT_ENTITY_FROM_NAME,
  type EntityName,
  entityNames,
  filesSource,
  type GoldRunResult,
  type OutputFormat,
  runGold,
  runSilver,
  runSource,
  type SilverTable,
  silverTables,
  writeFiles,
} from '@cairn/pipelines'
import { migrationsDir } from '@cairn/sql'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { progress } from './bench-settings.js'
import { CpuMeter } from './cpu-usage.js'
import { databaseUrlFor, serverVersion, withClient } from './database.js'
import { describeMachine, type Machine } from './machine.js'
import { alignedTable, fixed } from './markdown-table.js'
import { servicesUp } from './services.js'

const CAIRN_DATABASE = 'cairn_bench_pipeline'
const FLOOR_DATABASE = 'cairn_bench_floor'
/** Cairn total over floor total at most this: the goal the report states. */
const GOAL_RATIO = 2
const SILVER_MIGRATION = '0005_silver.sql'
const log = progress

interface Options {
  orders: number
  seed: number
  format: OutputFormat
  parts: 'single' | 'split'
  keep: boolean
}

type StepName = 'generate' | 'bronze' | 'silver' | 'gold' | 'floorCopy' | 'floorCtas'

/** One timed step: wall time, and the CPU the bench's own Node process and the whole machine used meanwhile. */
interface StepTiming {
  seconds: number
  /** This process (the generator, the files source's parsing, the COPY streams), in % of one core. */
  nodeCpuPct: number
  /** The whole machine, in % of all cores: other work on a shared machine shows here. */
  hostCpuPct: number
}

interface EntityRows {
  entity: EntityName
  files: number
  bytes: number
  generated: number
  bronze: number
  floorCopy: number
  floorTyped: number | undefined
  floorCopySeconds: number
  floorCtasSeconds: number | undefined
  silver?: { read: number; written: number; quarantined: number; dropped: number; duplicates: number; rows: number }
}

interface PipelineThroughputReport {
  date: string
  command: string
  options: Options & { databases: { cairn: string; floor: string } }
  machine: Machine & { postgres: string; loadAverage: { start: number[]; end: number[] } }
  data: { files: number; bytes: number; records: number }
  steps: Record<StepName, StepTiming>
  cairn: {
    seconds: number
    recordsPerHour: number
    migrateSeconds: number
    bronzeRows: Record<string, number>
    silverRows: Record<string, number>
    goldRows: Record<string, number>
    silverSteps: { table: string; read: number; written: number; quarantined: number; duplicates: number; ms: number }[]
    gold: GoldRunResult
  }
  floor: { seconds: number; rawRows: Record<string, number>; typedRows: Record<string, number> }
  entities: EntityRows[]
  ratios: { total: number; bronzeVsCopy: number; silverGoldVsCtas: number }
  goal: { text: string; ratio: number; met: boolean }
  /** Row counts that should agree and did not (generated records, bronze rows, floor COPY rows). */
  mismatches: string[]
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      orders: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '42' },
      format: { type: 'string', default: 'jsonl' },
      parts: { type: 'string', default: 'single' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  })
  const whole = (name: string, raw: string, min: number) => {
    const value = Number(raw.replace(/_/g, ''))
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be a whole number ≥ ${min}, not "${raw}"`)
    return value
  }
  if (values.format !== 'jsonl' && values.format !== 'csv')
    throw new Error(`--format must be jsonl or csv, not "${values.format}"`)
  if (values.parts !== 'single' && values.parts !== 'split')
    throw new Error(`--parts must be single or split, not "${values.parts}"`)
  return {
    orders: whole('orders', values.orders, 1),
    seed: whole('seed', values.seed, 0),
    format: values.format,
    parts: values.parts,
    keep: values.keep,
  }
}

/** Runs `work` and measures it: wall time, this process's CPU and the machine's. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; timing: StepTiming }> {
  const host = new CpuMeter([])
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const value = await work()
  const seconds = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  const { hostPct } = host.stop()
  const nodeCpuPct = seconds > 0 ? (used.user + used.system) / 1e4 / seconds : 0
  return { value, timing: { seconds, nodeCpuPct, hostCpuPct: hostPct } }
}

async function recreateDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  })
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  )
}

/** Flushes dirty buffers before a timed step (not timed), so no step pays for the previous one's writes. */
async function checkpoint(adminUrl: string): Promise<void> {
  await withClient(adminUrl, (client) => client.query('CHECKPOINT'))
}

/** Rows of every table and materialized view in a schema. */
async function rowsPerTable(db: pg.Pool | pg.Client, schema: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm') AND c.relname <> '_template' ORDER BY 1`,
    [schema],
  )
  const counts: Record<string, number> = {}
  for (const { name } of rows) {
    const { rows: c } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`,
    )
    counts[name] = Number(c[0]?.n ?? 0)
  }
  return counts
}

/**
 * The safe casts of the silver migration (`cairn_meta.try_*`), read from it and recreated in the floor
 * database's `public` schema, bodies unchanged, so the floor's casts are silver's own.
 */
async function floorFunctions(): Promise<string[]> {
  const path = join(migrationsDir, SILVER_MIGRATION)
  const sql = await readFile(path, 'utf8')
  const found = [...sql.matchAll(/CREATE FUNCTION cairn_meta\.(try_\w+)\(t text\)[\s\S]*?\$\$;/g)]
  const names = found.map((m) => m[1])
  for (const needed of ['try_bigint', 'try_integer', 'try_numeric', 'try_timestamptz']) {
    if (!names.includes(needed)) throw new Error(`no cairn_meta.${needed}(t text) in ${path}`)
  }
  const statements = found.map((m) => m[0].replace('CREATE FUNCTION cairn_meta.', 'CREATE FUNCTION public.'))
  if (statements.some((s) => s.includes('cairn_meta'))) throw new Error(`a try_* function in ${path} uses cairn_meta`)
  return statements
}

const FLOOR_CAST: Record<ColumnType, ((field: string) => string) | undefined> = {
  bigint: (f) => `public.try_bigint(${f})`,
  integer: (f) => `public.try_integer(${f})`,
  numeric: (f) => `public.try_numeric(${f})`,
  timestamptz: (f) => `public.try_timestamptz(${f})`,
  text: undefined,
  lower: undefined,
  upper: undefined,
}

/**
 * The floor's typed table of one entity: each silver column from its raw field (the first present alias,
 * as silver reads renamed fields), cast to the silver type with the safe casts; text as it is.
 */
function floorCtasSql(table: SilverTable, format: OutputFormat, csvHeader: readonly string[]): string {
  const columns = table.columns.map((column) => {
    const names = column.from ?? [column.name]
    const fields =
      format === 'jsonl'
        ? names.map((n) => `payload->>${pg.escapeLiteral(n)}`)
        : names.filter((n) => csvHeader.includes(n)).map((n) => pg.escapeIdentifier(n))
    const field =
      fields.length === 0 ? 'NULL::text' : fields.length === 1 ? fields[0] : `coalesce(${fields.join(', ')})`
    const cast = FLOOR_CAST[column.type]
    return `${cast ? cast(field as string) : field} AS ${pg.escapeIdentifier(column.name)}`
  })
  return `CREATE TABLE typed.${pg.escapeIdentifier(table.bronze)} WITH (autovacuum_enabled = false) AS
SELECT ${columns.join(',\n       ')}
FROM raw.${pg.escapeIdentifier(table.bronze)}`
}

/** The raw COPY of a file: JSONL lines whole into one jsonb column (no character of theirs is special), CSV as is. */
function floorCopySql(entity: string, format: OutputFormat, csvHeader: readonly string[]): string {
  const target = `raw.${pg.escapeIdentifier(entity)}`
  return format === 'jsonl'
    ? `COPY ${target} (payload) FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')`
    : `COPY ${target} (${csvHeader.map((c) => pg.escapeIdentifier(c)).join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true)`
}

async function csvHeaderOf(file: string): Promise<string[]> {
  const stream = createReadStream(file, { encoding: 'utf8', end: 64 * 1024 })
  let text = ''
  for await (const chunk of stream) {
    text += chunk
    if (text.includes('\n')) break
  }
  stream.destroy()
  const line =
    text
      .split('\n')[0]
      ?.replace(/^\uFEFF/, '')
      .replace(/\r$/, '') ?? ''
  return line.split(',').map((c) => c.replace(/^"(.*)"$/, '$1'))
}

const entityPattern = new RegExp(DEFAULT_ENTITY_FROM_NAME)

/** The generated files by entity, entities in the order of the record contract, files as written. */
function filesByEntity(files: readonly string[]): Map<EntityName, string[]> {
  const byEntity = new Map<EntityName, string[]>()
  for (const file of files) {
    const entity = entityPattern.exec(basename(file))?.[1] as EntityName | undefined
    if (!entity || !entityNames.includes(entity)) throw new Error(`no entity in the file name ${file}`)
    byEntity.set(entity, [...(byEntity.get(entity) ?? []), file])
  }
  return new Map(entityNames.filter((e) => byEntity.has(e)).map((e) => [e, byEntity.get(e) ?? []]))
}

const seconds = (value: number | undefined) => fixed(value, value !== undefined && value < 10 ? 2 : 1)
const count = (value: number | undefined) => (value === undefined ? '–' : value.toLocaleString('en-US'))
const ratio = (value: number) => `${value.toFixed(2)}×`

/** Seconds, rows and rate of each step, Cairn's and the floor's. */
function stepsTable(report: PipelineThroughputReport): string {
  const { steps: s } = report
  const bronze = Object.values(report.cairn.bronzeRows).reduce((a, b) => a + b, 0)
  const raw = Object.values(report.floor.rawRows).reduce((a, b) => a + b, 0)
  const silver = report.cairn.silverSteps.reduce((a, b) => a + b.read, 0)
  const typed = Object.values(report.floor.typedRows).reduce((a, b) => a + b, 0)
  const cairn = s.bronze.seconds + s.silver.seconds + s.gold.seconds
  const floor = s.floorCopy.seconds + s.floorCtas.seconds
  const header = ['step', 'seconds', 'rows', 'rows/s', 'bench process CPU %', 'machine CPU %']
  const row = (name: string, t: StepTiming | undefined, secs: number, rows: number | undefined) => [
    name,
    seconds(secs),
    count(rows),
    rows === undefined || secs <= 0 ? '–' : count(Math.round(rows / secs)),
    t ? fixed(t.nodeCpuPct, 0) : '–',
    t ? fixed(t.hostCpuPct, 0) : '–',
  ]
  const cells = [
    row('generate (files)', s.generate, s.generate.seconds, report.data.records),
    row('Cairn bronze (files source → COPY)', s.bronze, s.bronze.seconds, bronze),
    row('Cairn silver (rows read)', s.silver, s.silver.seconds, silver),
    row('Cairn gold', s.gold, s.gold.seconds, undefined),
    row('**Cairn total**', undefined, cairn, bronze),
    row('floor COPY (raw)', s.floorCopy, s.floorCopy.seconds, raw),
    row('floor CREATE TABLE AS (typed)', s.floorCtas, s.floorCtas.seconds, typed),
    row('**floor total**', undefined, floor, raw),
  ]
  return alignedTable(
    header,
    header.map((_, i) => i > 0),
    cells,
  )
}

function ratioTable(report: PipelineThroughputReport): string {
  const { ratios: r, steps: s } = report
  const header = ['comparison', 'Cairn s', 'floor s', 'Cairn / floor']
  const cells = [
    [
      'total: bronze + silver + gold / COPY + CTAS',
      seconds(report.cairn.seconds),
      seconds(report.floor.seconds),
      ratio(r.total),
    ],
    ['bronze / COPY', seconds(s.bronze.seconds), seconds(s.floorCopy.seconds), ratio(r.bronzeVsCopy)],
    [
      'silver + gold / CTAS',
      seconds(s.silver.seconds + s.gold.seconds),
      seconds(s.floorCtas.seconds),
      ratio(r.silverGoldVsCtas),
    ],
  ]
  return alignedTable(
    header,
    header.map((_, i) => i > 0),
    cells,
  )
}

/** Per entity: files, records, and rows in each layer, Cairn's and the floor's. */
function entityTable(report: PipelineThroughputReport): string {
  const header = [
    'entity',
    'MiB',
    'generated',
    'bronze',
    'silver read',
    'silver written',
    'quarantined',
    'duplicates',
    'silver rows',
    'floor COPY',
    'floor typed',
    'floor COPY s',
    'floor CTAS s',
  ]
  const cells = report.entities.map((e) => [
    e.entity,
    fixed(e.bytes / 2 ** 20, 1),
    count(e.generated),
    count(e.bronze),
    count(e.silver?.read),
    count(e.silver?.written),
    count(e.silver?.quarantined),
    count(e.silver?.duplicates),
    count(e.silver?.rows),
    count(e.floorCopy),
    count(e.floorTyped),
    seconds(e.floorCopySeconds),
    seconds(e.floorCtasSeconds),
  ])
  return alignedTable(
    header,
    header.map((_, i) => i > 0),
    cells,
  )
}

function namedCounts(title: string, counts: Record<string, number>): string {
  const header = [title, 'rows']
  return alignedTable(
    header,
    [false, true],
    Object.entries(counts).map(([name, rows]) => [name, count(rows)]),
  )
}

function markdownReport(report: PipelineThroughputReport): string {
  const { options: o, machine: m } = report
  const silverEntities = new Set<string>(report.entities.map((e) => e.entity))
  const otherSilver = Object.fromEntries(
    Object.entries(report.cairn.silverRows).filter(([t]) => !silverEntities.has(t)),
  )
  const load = (values: number[]) => values.map((v) => v.toFixed(2)).join(' / ')
  const lines = [
    `# Pipeline throughput, ${report.date}`,
    '',
    `\`${report.command}\``,
    '',
    `${count(o.orders)} orders (seed ${o.seed}): ${count(report.data.records)} records in ${report.data.files} ` +
      `${o.format.toUpperCase()} file(s) (${o.parts}), ${fixed(report.data.bytes / 2 ** 20, 1)} MiB. ` +
      'Cairn: the files source (default settings) into bronze, the silver run, the gold run, in the ' +
      `migrated database \`${o.databases.cairn}\`. Floor: the same files in \`${o.databases.floor}\` on the same ` +
      'server, first, each streamed into an untyped table with a raw COPY (pg-copy-streams), then one ' +
      'CREATE TABLE AS per entity casting the silver columns with the safe casts of the silver migration. ' +
      'CHECKPOINT before each timed step (not timed).',
    '',
    `Machine: ${m.nproc} × ${m.cpuModel} (nproc ${m.nproc}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; ` +
      `PostgreSQL ${m.postgres}. Load average (1/5/15 min) at the start ${load(m.loadAverage.start)}, at the end ` +
      `${load(m.loadAverage.end)}. The bench, PostgreSQL and anything else running share these cores.`,
    '',
    `**${report.goal.text}: ${report.goal.met ? 'met' : 'not met'} (${ratio(report.goal.ratio)}).** ` +
      `Cairn: ${count(Math.round(report.cairn.recordsPerHour))} records per hour (bronze rows over Cairn's total seconds).`,
    '',
    stepsTable(report),
    '',
    ratioTable(report),
    '',
    entityTable(report),
    '',
    namedCounts('other silver tables', otherSilver),
    '',
    namedCounts('gold marts', report.cairn.goldRows),
    '',
    '"bench process CPU %" is the CPU this Node process used during the step (generator, files source parsing, ' +
      'COPY streams), in % of one core; "machine CPU %" is the whole machine busy, in % of all cores. ' +
      `Migrating \`${o.databases.cairn}\` took ${seconds(report.cairn.migrateSeconds)} s (not counted).`,
  ]
  if (report.mismatches.length > 0)
    lines.push('', 'Row counts that disagree:', '', ...report.mismatches.map((x) => `- ${x}`))
  return `${lines.join('\n')}\n`
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const args = process.argv.slice(2).join(' ')
  const command = `npm run bench:pipeline -w @cairn/bench${args ? ` -- ${args}` : ''}`
  const loadStart = loadavg()
  const cairnLog = createLogger({
    level: process.env.BENCH_PIPELINE_LOG_LEVEL || 'warn',
    format: 'json',
    destination: process.stderr,
  })

  log('starting PostgreSQL (scripts/services.sh up)')
  const adminUrl = await servicesUp()
  const postgres = await withClient(adminUrl, serverVersion)
  const dir = await mkdtemp(join(tmpdir(), 'cairn-bench-pipeline-'))
  const cairnUrl = databaseUrlFor(adminUrl, CAIRN_DATABASE)
  const floorUrl = databaseUrlFor(adminUrl, FLOOR_DATABASE)
  let pool: pg.Pool | undefined
  let floor: pg.Client | undefined

  let cleaned: Promise<void> | undefined
  const cleanup = () => {
    cleaned ??= (async () => {
      await pool?.end().catch(() => {})
      await floor?.end().catch(() => {})
      for (const name of [CAIRN_DATABASE, FLOOR_DATABASE])
        await dropDatabase(adminUrl, name).catch((err) => log(`cleanup: dropping ${name}: ${err}`))
      if (options.keep) log(`kept the files in ${dir}`)
      else await rm(dir, { recursive: true, force: true })
    })()
    return cleaned
  }
  const onSignal = () => {
    log('interrupted; dropping the bench databases')
    void cleanup().then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    log(`generating ${options.orders} orders (seed ${options.seed}) as ${options.format} (${options.parts}) in ${dir}`)
    const generated = await timed(() =>
      writeFiles({ orders: options.orders, seed: options.seed }, dir, { format: options.format, parts: options.parts }),
    )
    const written = generated.value
    const byEntity = filesByEntity(written.files)
    const sizes = new Map(await Promise.all(written.files.map(async (f) => [f, (await stat(f)).size] as const)))
    const totalRecords = Object.values(written.records).reduce((a, b) => a + b, 0)
    const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0)
    log(
      `generated ${totalRecords} records, ${written.files.length} files, ${(totalBytes / 2 ** 20).toFixed(1)} MiB ` +
        `in ${generated.timing.seconds.toFixed(1)} s`,
    )

    log(`creating ${CAIRN_DATABASE} (migrated) and ${FLOOR_DATABASE} (empty)`)
    await recreateDatabase(adminUrl, CAIRN_DATABASE)
    await recreateDatabase(adminUrl, FLOOR_DATABASE)
    const migrated = await timed(() => withClient(cairnUrl, (client) => migrate(client, migrationsDir)))
    floor = new pg.Client({ connectionString: floorUrl, application_name: 'cairn-bench-floor' })
    await floor.connect()
    const floorDb = floor
    await floorDb.query('CREATE SCHEMA raw; CREATE SCHEMA typed')
    for (const statement of await floorFunctions()) await floorDb.query(statement)

    // The floor first, with autovacuum off on its tables: nothing of it runs on the server while Cairn is
    // measured, and Cairn's own autovacuum work (which a production load has too) stays in Cairn's steps.
    const headers = new Map<EntityName, string[]>()
    for (const [entity, files] of byEntity) {
      const header = options.format === 'csv' ? await csvHeaderOf(files[0] as string) : []
      for (const file of files.slice(1)) {
        if (options.format === 'csv' && (await csvHeaderOf(file)).join(',') !== header.join(','))
          throw new Error(`${file} has another header than ${files[0]}`)
      }
      headers.set(entity, header)
      const columns =
        options.format === 'jsonl' ? 'payload jsonb' : header.map((c) => `${pg.escapeIdentifier(c)} text`).join(', ')
      await floorDb.query(
        `CREATE TABLE raw.${pg.escapeIdentifier(entity)} (${columns}) WITH (autovacuum_enabled = false)`,
      )
    }

    const floorCopyRows = new Map<EntityName, number>()
    const floorCopySeconds = new Map<EntityName, number>()
    await checkpoint(adminUrl)
    log('floor: COPY of each file into its untyped table')
    const copy = await timed(async () => {
      for (const [entity, files] of byEntity) {
        const t0 = performance.now()
        let rows = 0
        for (const file of files) {
          const stream = floorDb.query(copyFrom(floorCopySql(entity, options.format, headers.get(entity) ?? [])))
          await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), stream)
          rows += stream.rowCount
        }
        floorCopyRows.set(entity, rows)
        floorCopySeconds.set(entity, (performance.now() - t0) / 1000)
        log(`floor: raw.${entity}: ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      }
    })
    log(`floor: COPY done in ${copy.timing.seconds.toFixed(1)} s`)

    const floorTypedRows = new Map<EntityName, number>()
    const floorCtasSeconds = new Map<EntityName, number>()
    await checkpoint(adminUrl)
    log('floor: CREATE TABLE AS per entity with the silver column types')
    const ctas = await timed(async () => {
      for (const entity of byEntity.keys()) {
        for (const table of silverTables.filter((t) => t.bronze === entity)) {
          const t0 = performance.now()
          const result = await floorDb.query(floorCtasSql(table, options.format, headers.get(entity) ?? []))
          floorTypedRows.set(entity, (floorTypedRows.get(entity) ?? 0) + (result.rowCount ?? 0))
          floorCtasSeconds.set(entity, (floorCtasSeconds.get(entity) ?? 0) + (performance.now() - t0) / 1000)
          log(`floor: typed.${entity}: ${result.rowCount} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
        }
      }
    })
    log(`floor: CREATE TABLE AS done in ${ctas.timing.seconds.toFixed(1)} s`)
    await floorDb.end()
    floor = undefined

    pool = new pg.Pool({ connectionString: cairnUrl, max: 4, application_name: 'cairn-bench-pipeline' })
    const cairnPool = pool
    await checkpoint(adminUrl)
    log('Cairn bronze: the files source')
    let bronzeLoaded = 0
    let lastReport = performance.now()
    const bronze = await timed(() =>
      runSource(
        new BronzeLoader(cairnPool),
        filesSource,
        { dir },
        {
          log: cairnLog,
          onBatch: (_batch, result) => {
            bronzeLoaded += result.rows
            if (performance.now() - lastReport > 15_000) {
              lastReport = performance.now()
              log(`Cairn bronze: ${bronzeLoaded} of ${totalRecords} rows`)
            }
          },
        },
      ),
    )
    log(
      `Cairn bronze: ${bronze.value.rows} rows in ${bronze.value.batches} batches, ${bronze.timing.seconds.toFixed(1)} s`,
    )

    await checkpoint(adminUrl)
    log('Cairn silver')
    const silver = await timed(() =>
      runSilver(cairnPool, {
        log: cairnLog,
        onStep: (step) =>
          log(
            `Cairn silver: ${step.table}: ${step.read} read, ${step.written} written, ${step.quarantined} quarantined, ` +
              `${step.duplicates} duplicates in ${(step.ms / 1000).toFixed(1)} s`,
          ),
      }),
    )
    log(`Cairn silver: ${silver.timing.seconds.toFixed(1)} s`)

    await checkpoint(adminUrl)
    log('Cairn gold')
    const gold = await timed(() => runGold(cairnPool))
    log(`Cairn gold: ${gold.value.orders} orders, ${gold.timing.seconds.toFixed(1)} s`)

    log('counting rows')
    const bronzeRows = await rowsPerTable(cairnPool, 'bronze')
    const silverRows = await rowsPerTable(cairnPool, 'silver')
    const goldRows = await rowsPerTable(cairnPool, 'gold')

    const steps: Record<StepName, StepTiming> = {
      generate: generated.timing,
      bronze: bronze.timing,
      silver: silver.timing,
      gold: gold.timing,
      floorCopy: copy.timing,
      floorCtas: ctas.timing,
    }
    const cairnSeconds = steps.bronze.seconds + steps.silver.seconds + steps.gold.seconds
    const floorSeconds = steps.floorCopy.seconds + steps.floorCtas.seconds
    const bronzeTotal = Object.values(bronzeRows).reduce((a, b) => a + b, 0)
    const stepsByTable = new Map(silver.value.steps.map((s) => [s.table, s]))
    const mismatches: string[] = []
    const entities: EntityRows[] = []
    for (const [entity, files] of byEntity) {
      const generatedRows = written.records[entity]
      const row: EntityRows = {
        entity,
        files: files.length,
        bytes: files.reduce((a, f) => a + (sizes.get(f) ?? 0), 0),
        generated: generatedRows,
        bronze: bronzeRows[entity] ?? 0,
        floorCopy: floorCopyRows.get(entity) ?? 0,
        floorTyped: floorTypedRows.get(entity),
        floorCopySeconds: floorCopySeconds.get(entity) ?? 0,
        floorCtasSeconds: floorCtasSeconds.get(entity),
      }
      const step = stepsByTable.get(entity)
      if (step) {
        row.silver = {
          read: step.read,
          written: step.written,
          quarantined: step.quarantined,
          dropped: step.dropped,
          duplicates: step.duplicates,
          rows: silverRows[entity] ?? 0,
        }
      }
      for (const [what, rows] of [
        ['bronze', row.bronze],
        ['floor COPY', row.floorCopy],
        ['floor typed', row.floorTyped ?? generatedRows],
        ['silver read', row.silver?.read ?? generatedRows],
      ] as const) {
        if (rows !== generatedRows) mismatches.push(`${entity}: ${rows} rows in ${what}, ${generatedRows} generated`)
      }
      entities.push(row)
    }
    for (const m of mismatches) log(`warning: ${m}`)

    const totalRatio = cairnSeconds / floorSeconds
    const now = new Date()
    const report: PipelineThroughputReport = {
      date: now.toISOString(),
      command,
      options: {
        ...options,
        databases: { cairn: CAIRN_DATABASE, floor: FLOOR_DATABASE },
      },
      machine: { ...describeMachine(), postgres, loadAverage: { start: loadStart, end: loadavg() } },
      data: { files: written.files.length, bytes: totalBytes, records: totalRecords },
      steps,
      cairn: {
        seconds: cairnSeconds,
        recordsPerHour: (bronzeTotal / cairnSeconds) * 3600,
        migrateSeconds: migrated.timing.seconds,
        bronzeRows,
        silverRows,
        goldRows,
        silverSteps: silver.value.steps.map((s) => ({
          table: s.table,
          read: s.read,
          written: s.written,
          quarantined: s.quarantined,
          duplicates: s.duplicates,
          ms: s.ms,
        })),
        gold: gold.value,
      },
      floor: {
        seconds: floorSeconds,
        rawRows: Object.fromEntries(floorCopyRows),
        typedRows: Object.fromEntries(floorTypedRows),
      },
      entities,
      ratios: {
        total: totalRatio,
        bronzeVsCopy: steps.bronze.seconds / steps.floorCopy.seconds,
        silverGoldVsCtas: (steps.silver.seconds + steps.gold.seconds) / steps.floorCtas.seconds,
      },
      goal: { text: `goal: Cairn total ≤ ${GOAL_RATIO}× floor`, ratio: totalRatio, met: totalRatio <= GOAL_RATIO },
      mismatches,
    }

    const stamp = now.toISOString().slice(0, 16).replace(/:/g, '').replace('T', '-')
    const resultsDir = fileURLToPath(new URL('../results/', import.meta.url))
    await mkdir(resultsDir, { recursive: true })
    const json = join(resultsDir, `pipeline-throughput-${stamp}.json`)
    const md = join(resultsDir, `pipeline-throughput-${stamp}.md`)
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(md, markdownReport(report))

    console.log(stepsTable(report))
    console.log('')
    console.log(ratioTable(report))
    console.log('')
    console.log(entityTable(report))
    console.log('')
    console.log(`Cairn: ${count(Math.round(report.cairn.recordsPerHour))} records per hour`)
    console.log(`${report.goal.text}: ${report.goal.met ? 'met' : 'not met'} (${ratio(totalRatio)})`)
    console.log(`\nWrote ${json} and ${md}`)
  } finally {
    await cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
})
