import type { ProposedAction } from '../actuator/proposed-action.js'
import type { AnalyzedTemplate, CostedStatement } from './analyzed-workload.js'
import type { DropCandidate } from './drop-candidates.js'
import { formatBytes, formatCount, formatFactor, formatMs } from './format-quantity.js'
import {
  createIndexSql,
  describeIndex,
  dropIndexSql,
  type IndexDefinition,
  qualifiedTable,
} from './index-definition.js'
import type { SelectedIndex } from './select-indexes.js'

/** A change the index advisor recommends: exactly what the actuator takes. */
export interface IndexRecommendation extends ProposedAction {
  readonly kind: 'index.create' | 'index.drop'
}

/** A candidate considered and not recommended, and why. */
export interface IndexRejection {
  readonly kind: 'index.create' | 'index.drop'
  readonly key: string
  readonly relation: string
  /** `silver.orders (customer_id)`, or the existing index's name. */
  readonly index: string
  readonly reason: string
}

/** One template a recommended index helps, as its evidence lists it. */
export interface StatementEvidence {
  readonly fingerprint: string
  readonly normalizedText: string
  /** One real statement of the template (cut at 1,000 characters), as costed. */
  readonly example: string
  /** Mean EXPLAIN cost per call of its costed statements, without and with the index. */
  readonly costBefore: number
  readonly costAfter: number
  readonly callsPerHour: number
  readonly meanMs: number
}

const EXAMPLE_CHARS = 1_000

/**
 * The `index.create` action for a chosen index, its reason a sentence such as
 * "index on silver.orders (customer_id) would make 3 statements 40× cheaper:
 * 18,200 → 450 cost units per call, weighted 1,930 calls/h; …".
 */
export function createRecommendation(
  selected: SelectedIndex,
  name: string,
  {
    templates,
    statements,
    source,
    budgetBytes,
  }: {
    templates: ReadonlyMap<string, AnalyzedTemplate>
    statements: ReadonlyMap<number, CostedStatement>
    source: string
    budgetBytes: number
  },
): IndexRecommendation {
  const d = selected.candidate.definition
  const helped = byTemplate(selected, templates, statements)
  const calls = helped.reduce((sum, h) => sum + h.callsPerHour, 0)
  const before = weightedMean(helped.map((h) => [h.costBefore, h.callsPerHour]))
  const after = weightedMean(helped.map((h) => [h.costAfter, h.callsPerHour]))
  const spentMs = selected.effects.reduce((sum, e) => sum + e.weightMs, 0)
  const netMs = selected.savedMsPerHour - selected.upkeepMsPerHour
  const upkeep =
    selected.upkeepMsPerHour > 0
      ? `, less ~${formatMs(selected.upkeepMsPerHour)}/h of upkeep on ${formatCount(selected.writesPerHour)} writes/h`
      : ''
  const how = selected.steps.some((s) => s.startsWith('widened')) ? ` (${selected.steps.at(-1)})` : ''
  const reason =
    `${capitalize(kindOf(d))} on ${describeIndex(d, { method: false })} would make ${helped.length} statement${helped.length === 1 ? '' : 's'} ` +
    `${formatFactor(before / Math.max(after, 1e-9))} cheaper: ${formatCount(before)} → ${formatCount(after)} cost units per call, ` +
    `weighted ${formatCount(calls)} calls/h; it saves ~${formatMs(selected.savedMsPerHour)} of the ${formatMs(spentMs)} per hour ` +
    `they take${upkeep}, for ${formatBytes(selected.sizeBytes)}${how}`
  return {
    kind: 'index.create',
    key: selected.candidate.key,
    relation: qualifiedTable(d),
    apply: { sql: createIndexSql(d, name), concurrently: true },
    rollback: { sql: dropIndexSql(d.schema, name), concurrently: true },
    reason,
    evidence: {
      index: name,
      definition: { ...d },
      origin: selected.candidate.origin,
      statements: helped,
      savedMsPerHour: selected.savedMsPerHour,
      upkeepMsPerHour: selected.upkeepMsPerHour,
      writesPerHour: selected.writesPerHour,
      sizeBytes: selected.sizeBytes,
      budgetBytes,
      steps: selected.steps,
    },
    predictedBenefitMs: netMs,
    sizeBytes: selected.sizeBytes,
    affectedFingerprints: helped.map((h) => h.fingerprint),
    source,
  }
}

/** The `index.drop` action for a redundant or unused index; rolling it back builds it again as it was. */
export function dropRecommendation(
  drop: DropCandidate,
  {
    source,
    indexWriteMs,
    affectedFingerprints,
  }: { source: string; indexWriteMs: number; affectedFingerprints: readonly string[] },
): IndexRecommendation {
  const upkeepMs = drop.writesPerHour * indexWriteMs * (drop.index.method === 'brin' ? 0.1 : 1)
  return {
    kind: 'index.drop',
    key: dropKey(drop.schema, drop.index.name),
    relation: `${drop.schema}.${drop.table}`,
    apply: { sql: dropIndexSql(drop.schema, drop.index.name), concurrently: true },
    rollback: { sql: concurrentDefinition(drop.index.definition), concurrently: true },
    reason: drop.reason,
    evidence: {
      index: drop.index.name,
      ground: drop.ground,
      ...(drop.by ? { by: drop.by } : {}),
      definition: drop.index.definition,
      sizeBytes: drop.index.bytes,
      scans: drop.index.scans,
      writesPerHour: drop.writesPerHour,
    },
    predictedBenefitMs: upkeepMs,
    sizeBytes: 0,
    affectedFingerprints: [...affectedFingerprints],
    source,
  }
}

export const dropKey = (schema: string, index: string): string => `index.drop:${schema}.${index}`

/** pg_get_indexdef's `CREATE [UNIQUE] INDEX name ON …`, built without blocking writes. */
function concurrentDefinition(definition: string): string {
  return definition.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ')
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)

function kindOf(d: IndexDefinition): string {
  if (d.method === 'brin') return 'a BRIN index'
  if (d.predicate) return 'a partial index'
  if (d.include.length > 0) return 'a covering index'
  return 'an index'
}

function byTemplate(
  selected: SelectedIndex,
  templates: ReadonlyMap<string, AnalyzedTemplate>,
  statements: ReadonlyMap<number, CostedStatement>,
): StatementEvidence[] {
  const groups = new Map<string, SelectedIndex['effects'][number][]>()
  for (const e of selected.effects) groups.set(e.fingerprint, [...(groups.get(e.fingerprint) ?? []), e])
  return [...groups]
    .map(([fingerprint, effects]) => {
      const template = templates.get(fingerprint)
      const example = statements.get(effects[0]?.statementId ?? -1)?.text ?? ''
      return {
        fingerprint,
        normalizedText: template?.normalizedText ?? '',
        example: example.length > EXAMPLE_CHARS ? `${example.slice(0, EXAMPLE_CHARS)}…` : example,
        costBefore: effects.reduce((sum, e) => sum + e.before, 0) / effects.length,
        costAfter: effects.reduce((sum, e) => sum + e.after, 0) / effects.length,
        callsPerHour: effects.reduce((sum, e) => sum + e.callsPerHour, 0),
        meanMs: template?.meanMs ?? 0,
      }
    })
    .sort((a, b) => b.callsPerHour * b.costBefore - a.callsPerHour * a.costBefore)
}

function weightedMean(pairs: readonly (readonly [number, number])[]): number {
  const weight = pairs.reduce((sum, [, w]) => sum + w, 0)
  if (weight <= 0) return pairs.reduce((sum, [v]) => sum + v, 0) / Math.max(1, pairs.length)
  return pairs.reduce((sum, [v, w]) => sum + v * w, 0) / weight
}
