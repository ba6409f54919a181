import { loadModule } from 'libpg-query'
import pg from 'pg'
import { type AnalyzedTemplate, analyzeWorkload, type CostedStatement } from './analyzed-workload.js'
import { dropCandidates } from './drop-candidates.js'
import { formatBytes, formatMs } from './format-quantity.js'
import { indexCandidates } from './index-candidates.js'
import { describeIndex, indexName, qualifiedTable } from './index-definition.js'
import {
  createRecommendation,
  dropKey,
  dropRecommendation,
  type IndexRecommendation,
  type IndexRejection,
} from './index-recommendation.js'
import { type IndexUsage, readIndexUsage } from './index-usage.js'
import { indexedTables, readRelationCatalog } from './relation-catalog.js'
import { type IndexSelection, selectIndexes } from './select-indexes.js'
import { comparableText, sampleStatStatements } from './stat-statements-sample.js'
import { WhatIfCosting } from './what-if-costing.js'
import { sampleWorkload } from './workload-sample.js'

/** Everything the analysis needs, structured-cloneable: it runs in a worker thread on a connection of its own. */
export interface AnalyzeIndexesInput {
  /** The warehouse; the analysis connects read-only (`default_transaction_read_only`). */
  readonly databaseUrl: string
  /** The end of the window, epoch ms. Default now. */
  readonly now?: number
  /** How far back the workload is read from `cairn_meta.query_events`. Default 24 h. */
  readonly windowMs?: number
  /** Bytes all of Cairn's indexes may take together; default `budgetFraction` of the database's size. */
  readonly storageBudgetBytes?: number
  /** Default 0.1. */
  readonly budgetFraction?: number
  /** See `SelectIndexesOptions`. Defaults 0.1, 1,000 ms/h, 0.02 ms, 10, 3. */
  readonly minImprovement?: number
  readonly minBenefitMsPerHour?: number
  readonly indexWriteMs?: number
  readonly maxIndexes?: number
  readonly maxKeyColumns?: number
  /** Also cost the work that bypassed the proxy (pg_stat_statements deltas the collectors sampled). Default true. */
  readonly includeStatStatements?: boolean
  /** Templates analysed (heaviest first), and real statements costed per template. Defaults 200 and 3. */
  readonly maxTemplates?: number
  readonly statementsPerTemplate?: number
  /** An index not scanned this long is unused. Default 7 days. */
  readonly usageWindowMs?: number
  readonly allowDropsOfUnowned?: boolean
  /** Default `cairn_`. */
  readonly ownedPrefix?: string
  /** More indexes Cairn owns, `schema.index`. */
  readonly owned?: readonly string[]
  /** Candidate keys not to recommend, with the reason (past verdicts). */
  readonly excluded?: Readonly<Record<string, string>>
  /** Drop keys not to recommend, with the reason. */
  readonly excludedDrops?: Readonly<Record<string, string>>
  /** Scan-count baselines a running advisor keeps in memory (besides `cairn_meta.index_usage`). */
  readonly usageBaselines?: readonly IndexUsage[]
  /** Return each recommended index's plans before and after, per statement (for a latency predictor). */
  readonly withPlans?: boolean
  /** Per statement, ms. Default 10 s. */
  readonly statementTimeoutMs?: number
  /** Names the actions' source. Default `index-advisor`. */
  readonly source?: string
}

/** The plans of one statement without and with a recommended index. */
export interface StatementPlans {
  readonly key: string
  readonly fingerprint: string
  readonly callsPerHour: number
  readonly meanMs: number
  readonly costBefore: number
  readonly costAfter: number
  readonly before: unknown
  readonly after: unknown
}

export interface IndexAnalysis {
  readonly recommendations: IndexRecommendation[]
  readonly rejected: IndexRejection[]
  /** A sentence: what was considered, what is recommended, or why nothing is. */
  readonly summary: string
  readonly considered: {
    readonly windowMs: number
    readonly events: number
    readonly templates: number
    readonly bypassingTemplates: number
    readonly statements: number
    /** Statements PostgreSQL could not explain, and the first error. */
    readonly unexplained: number
    readonly firstError?: string
    readonly tables: number
    readonly candidates: number
    readonly explains: number
    readonly budgetBytes: number
    readonly usedBytes: number
    readonly skipped: readonly { readonly fingerprint: string; readonly reason: string }[]
  }
  /** Selection steps taken, in order. */
  readonly steps: IndexSelection['steps']
  /** Current scan counts, to be remembered for the next run. */
  readonly usage: IndexUsage[]
  readonly plans: StatementPlans[]
  /** Why no index could be costed at all (no HypoPG), when that is so. */
  readonly unavailable?: string
}

const HOUR = 3_600_000

/**
 * The index advisor's analysis, end to end: sample the workload, read the
 * catalog, build candidates, cost them with HypoPG, select under the budget,
 * find drops, and say why for everything. Exported for `ctx.workers.run`; it
 * opens (and closes) its own read-only connection.
 */
export async function analyzeIndexes(input: AnalyzeIndexesInput): Promise<IndexAnalysis> {
  const client = new pg.Client({ connectionString: input.databaseUrl, application_name: 'cairn index advisor' })
  await client.connect()
  try {
    await client.query(
      `SELECT set_config('default_transaction_read_only', 'on', false), set_config('statement_timeout', $1, false)`,
      [String(input.statementTimeoutMs ?? 10_000)],
    )
    return await analyze(client, input)
  } finally {
    await client.end()
  }
}

async function analyze(client: pg.Client, input: AnalyzeIndexesInput): Promise<IndexAnalysis> {
  const {
    now = Date.now(),
    windowMs = 24 * HOUR,
    budgetFraction = 0.1,
    indexWriteMs = 0.02,
    usageWindowMs = 7 * 24 * HOUR,
    ownedPrefix = 'cairn_',
    allowDropsOfUnowned = false,
    statementsPerTemplate = 3,
    source = 'index-advisor',
    excluded = {},
    excludedDrops = {},
  } = input
  await loadModule()
  const hypopg = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'`,
  )
  const hypopgSchema = hypopg.rows[0]?.schema
  const proxied = await sampleWorkload(client, {
    from: now - windowMs,
    until: now,
    ...(input.maxTemplates ? { maxTemplates: input.maxTemplates } : {}),
  })
  const bypassed =
    input.includeStatStatements === false
      ? []
      : await sampleStatStatements(client, {
          from: now - windowMs,
          until: now,
          seen: new Set(proxied.templates.map((t) => comparableText(t.normalizedText))),
        })
  const sample = { ...proxied, templates: [...proxied.templates, ...bypassed] }
  const read = sample.templates.flatMap((t) => [...t.relationsRead, ...t.relationsWritten])
  const withIndexes = await indexedTables(client, allowDropsOfUnowned ? {} : { namePrefix: ownedPrefix })
  const tables = await readRelationCatalog(client, [...read, ...withIndexes], { since: now - windowMs })
  const workload = analyzeWorkload(sample, tables, { statementsPerTemplate })
  const candidates = indexCandidates(workload, tables, { maxKeyColumns: input.maxKeyColumns ?? 3 })

  const dbBytes = Number(
    (await client.query<{ bytes: number }>('SELECT pg_database_size(current_database())::float8 AS bytes')).rows[0]
      ?.bytes ?? 0,
  )
  const budgetBytes = input.storageBudgetBytes ?? Math.floor(dbBytes * budgetFraction)
  const ownedBytes = [...tables.values()]
    .flatMap((t) => t.indexes)
    .filter((i) => i.name.startsWith(ownedPrefix))
    .reduce((sum, i) => sum + i.bytes, 0)

  const costing = hypopgSchema ? new WhatIfCosting(client, hypopgSchema) : undefined
  const selection = costing
    ? await selectIndexes(
        {
          statements: workload.statements,
          candidates: candidates.candidates,
          columnsByTable: candidates.columnsByTable,
          writesPerHour: workload.writesPerHour,
        },
        costing,
        {
          budgetBytes,
          ownedBytes,
          ...(input.minImprovement !== undefined ? { minImprovement: input.minImprovement } : {}),
          ...(input.minBenefitMsPerHour !== undefined ? { minBenefitMsPerHour: input.minBenefitMsPerHour } : {}),
          indexWriteMs,
          ...(input.maxIndexes !== undefined ? { maxIndexes: input.maxIndexes } : {}),
          ...(input.maxKeyColumns !== undefined ? { maxKeyColumns: input.maxKeyColumns } : {}),
          excluded,
        },
      )
    : undefined

  // Names: the usual one, or with a hash when something in the schema already has it.
  const templates = new Map<string, AnalyzedTemplate>(workload.templates.map((t) => [t.fingerprint, t]))
  const statements = new Map<number, CostedStatement>(workload.statements.map((s) => [s.id, s]))
  const recommendations: IndexRecommendation[] = []
  for (const chosen of selection?.chosen ?? []) {
    const d = chosen.candidate.definition
    let name = indexName(d)
    const taken = await client.query(
      `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [d.schema, name],
    )
    if (taken.rows.length > 0) name = indexName(d, { hashed: true })
    recommendations.push(
      createRecommendation(chosen, name, { templates, statements, source, budgetBytes: selection?.budgetBytes ?? 0 }),
    )
  }

  const rejected: IndexRejection[] = [
    ...(selection?.rejected ?? []),
    ...candidates.rejected,
    ...(costing
      ? []
      : candidates.candidates.map((c) => ({
          key: c.key,
          definition: c.definition,
          reason: 'HypoPG is not installed',
        }))),
  ].map((r) => ({
    kind: 'index.create' as const,
    key: r.key,
    relation: qualifiedTable(r.definition),
    index: describeIndex(r.definition),
    reason: r.reason,
  }))

  // Drops: on every table read, and every table with an index Cairn may drop.
  const tableList = [...tables.values()]
  const usage = await readIndexUsage(client, tableList, { now, baselines: input.usageBaselines ?? [] })
  const drops = dropCandidates(tableList, usage, {
    now,
    usageWindowMs,
    allowDropsOfUnowned,
    ownedPrefix,
    owned: input.owned ?? [],
    writesPerHour: workload.writesPerHour,
  })
  for (const drop of drops.drops) {
    const key = dropKey(drop.schema, drop.index.name)
    const relation = `${drop.schema}.${drop.table}`
    if (excludedDrops[key]) {
      rejected.push({
        kind: 'index.drop',
        key,
        relation,
        index: `${drop.schema}.${drop.index.name}`,
        reason: excludedDrops[key],
      })
      continue
    }
    const affected = workload.templates
      .filter((t) => t.tables.includes(relation))
      .sort((a, b) => b.msPerHour - a.msPerHour)
      .slice(0, 20)
      .map((t) => t.fingerprint)
    recommendations.push(dropRecommendation(drop, { source, indexWriteMs, affectedFingerprints: affected }))
  }
  for (const kept of drops.kept) {
    rejected.push({
      kind: 'index.drop',
      key: dropKey(kept.schema, kept.index),
      relation: `${kept.schema}.${kept.table}`,
      index: `${kept.schema}.${kept.index}`,
      reason: kept.reason,
    })
  }

  const plans: StatementPlans[] = []
  if (input.withPlans && costing && selection) {
    const all = selection.chosen.map((c) => c.candidate.definition)
    for (const chosen of selection.chosen) {
      const others = all.filter((d) => d !== chosen.candidate.definition)
      for (const effect of chosen.effects) {
        const statement = statements.get(effect.statementId) as CostedStatement
        plans.push({
          key: chosen.candidate.key,
          fingerprint: effect.fingerprint,
          callsPerHour: effect.callsPerHour,
          meanMs: templates.get(effect.fingerprint)?.meanMs ?? 0,
          costBefore: effect.before,
          costAfter: effect.after,
          before: await costing.plan(statement, others),
          after: await costing.plan(statement, all),
        })
      }
    }
  }

  const considered = {
    windowMs,
    events: sample.events,
    templates: workload.templates.length,
    /** Of which seen only by pg_stat_statements. */
    bypassingTemplates: workload.templates.filter((t) => t.source === 'pg_stat_statements').length,
    statements: workload.statements.length,
    unexplained: costing?.errors.size ?? 0,
    ...(costing && costing.errors.size > 0 ? { firstError: [...costing.errors.values()][0] } : {}),
    tables: new Set(workload.templates.flatMap((t) => t.tables)).size,
    candidates: candidates.candidates.length + candidates.rejected.length,
    explains: costing?.explains ?? 0,
    budgetBytes,
    usedBytes: selection?.usedBytes ?? ownedBytes,
    skipped: workload.skipped,
  }
  const unavailable = hypopgSchema
    ? undefined
    : `HypoPG is not installed in this database, so no index can be costed (CREATE EXTENSION hypopg, as a superuser, enables it)`
  return {
    recommendations,
    rejected,
    summary: summarize({
      recommendations,
      rejected,
      considered,
      unavailable,
      sampleTemplates: sample.templates.length,
    }),
    considered,
    steps: selection?.steps ?? [],
    usage,
    plans,
    ...(unavailable ? { unavailable } : {}),
  }
}

function summarize({
  recommendations,
  rejected,
  considered,
  unavailable,
  sampleTemplates,
}: {
  recommendations: readonly IndexRecommendation[]
  rejected: readonly IndexRejection[]
  considered: IndexAnalysis['considered']
  unavailable: string | undefined
  sampleTemplates: number
}): string {
  const window = formatMs(considered.windowMs)
  const creates = recommendations.filter((r) => r.kind === 'index.create')
  const drops = recommendations.filter((r) => r.kind === 'index.drop')
  const dropPart =
    drops.length > 0
      ? `; ${drops.length} existing index(es) recommended for dropping (${drops.map((d) => d.evidence.index).join(', ')})`
      : ''
  if (creates.length > 0) {
    const bytes = creates.reduce((s, r) => s + (r.sizeBytes ?? 0), 0)
    const saved = creates.reduce((s, r) => s + (r.predictedBenefitMs ?? 0), 0)
    return `Recommended ${creates.length} new index(es) (${formatBytes(bytes)}, ~${formatMs(saved)} of workload time saved per hour) after considering ${considered.candidates} candidate(s) on ${considered.tables} table(s) for ${considered.templates} statement template(s) over the last ${window}${dropPart}.`
  }
  return `No new index recommended: ${whyNoIndex({ rejected, considered, unavailable, sampleTemplates, window })}${dropPart}.`
}

function whyNoIndex({
  rejected,
  considered,
  unavailable,
  sampleTemplates,
  window,
}: {
  rejected: readonly IndexRejection[]
  considered: IndexAnalysis['considered']
  unavailable: string | undefined
  sampleTemplates: number
  window: string
}): string {
  if (unavailable) return unavailable
  if (sampleTemplates === 0)
    return `cairn_meta.query_events holds no successful statements from the last ${window}, so there is no workload to index for`
  if (considered.templates === 0) {
    const skipped = considered.skipped[0]
    return `none of the ${sampleTemplates} statement template(s) of the last ${window} reads a table that can be indexed${
      skipped ? ` (e.g. ${skipped.fingerprint}: ${skipped.reason})` : ''
    }`
  }
  if (considered.statements > 0 && considered.unexplained >= considered.statements)
    return `none of the ${considered.statements} statement(s) sampled could be explained (${considered.firstError ?? 'unknown error'})`
  const creates = rejected.filter((r) => r.kind === 'index.create')
  if (creates.length === 0)
    return `the ${considered.templates} statement template(s) of the last ${window} compare, join or sort on no column an index could serve`
  const reasons = creates
    .slice(0, 4)
    .map((r) => `${r.index}: ${r.reason}`)
    .join('; ')
  return `of ${considered.candidates} candidate(s) on ${considered.tables} table(s) for ${considered.templates} statement template(s) over the last ${window}, none pays: ${reasons}${
    creates.length > 4 ? `; and ${creates.length - 4} more` : ''
  }`
}
