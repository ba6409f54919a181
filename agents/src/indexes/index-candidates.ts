import type { AnalyzedTemplate, AnalyzedWorkload, ConstantCondition } from './analyzed-workload.js'
import { type IndexDefinition, indexKey, qualifiedTable } from './index-definition.js'
import type { ColumnFacts, ExistingIndex, TableFacts } from './relation-catalog.js'

/** How a candidate came about. */
export type CandidateOrigin = 'single' | 'composite' | 'partial' | 'brin' | 'covering' | 'widened'

export interface IndexCandidate {
  readonly key: string
  readonly definition: IndexDefinition
  readonly origin: CandidateOrigin
  /** Templates whose columns it was built from. */
  readonly fingerprints: readonly string[]
}

/** A candidate that was not pursued, and why. */
export interface CandidateRejection {
  readonly key: string
  readonly definition: IndexDefinition
  readonly reason: string
}

export interface IndexCandidates {
  readonly candidates: readonly IndexCandidate[]
  readonly rejected: readonly CandidateRejection[]
  /** Per table, the columns the workload compares, joins, sorts or groups on: what an index may be widened by. */
  readonly columnsByTable: Readonly<Record<string, readonly string[]>>
}

export interface IndexCandidatesOptions {
  /** Most key columns in a candidate. Default 3. */
  readonly maxKeyColumns?: number
  /** Most INCLUDE columns in a covering candidate. Default 3. */
  readonly maxIncludeColumns?: number
  /** Widest a covering candidate's INCLUDE columns may be together, bytes (pg_stats avg_width). Default 64. */
  readonly maxIncludeBytes?: number
  /** Tables with fewer pages are read whole faster than through any index. Default 10. */
  readonly minTablePages?: number
  /** BRIN: least rows, and least |correlation| of the column with the physical order. Defaults 100,000 and 0.9. */
  readonly brinMinRows?: number
  readonly brinMinCorrelation?: number
}

interface TableUse {
  readonly table: TableFacts
  readonly templates: AnalyzedTemplate[]
  readonly columns: Set<string>
}

/**
 * Index candidates from the workload's columns, in the spirit of Dexter and
 * Extend: single-column B-trees on every compared, joined, sorted or grouped
 * column; per template a multi-column B-tree (equality columns first, most
 * selective first, then one range column, then the sort); partial indexes on
 * conditions constant across the workload; BRIN on large tables' columns that
 * follow the physical order; covering indexes (INCLUDE) that let a frequent
 * query be answered from the index alone. What an existing index already
 * covers is rejected with that index's name.
 */
export function indexCandidates(
  workload: AnalyzedWorkload,
  tables: ReadonlyMap<string, TableFacts>,
  {
    maxKeyColumns = 3,
    maxIncludeColumns = 3,
    maxIncludeBytes = 64,
    minTablePages = 10,
    brinMinRows = 100_000,
    brinMinCorrelation = 0.9,
  }: IndexCandidatesOptions = {},
): IndexCandidates {
  const uses = new Map<string, TableUse>()
  for (const template of workload.templates) {
    for (const relation of template.tables) {
      const table = tables.get(relation)
      if (!table) continue
      const use = uses.get(relation) ?? { table, templates: [], columns: new Set<string>() }
      uses.set(relation, use)
      use.templates.push(template)
      for (const c of relevantColumns(template, relation)) use.columns.add(c)
    }
  }

  const found = new Map<string, IndexCandidate>()
  const rejected = new Map<string, CandidateRejection>()
  const consider = (definition: IndexDefinition, origin: CandidateOrigin, fingerprints: readonly string[]) => {
    const key = indexKey(definition)
    const existing = found.get(key)
    if (existing) {
      found.set(key, { ...existing, fingerprints: [...new Set([...existing.fingerprints, ...fingerprints])] })
      return
    }
    if (rejected.has(key)) return
    const table = tables.get(qualifiedTable(definition)) as TableFacts
    const covering = coveredBy(definition, table.indexes)
    if (covering) {
      rejected.set(key, {
        key,
        definition,
        reason: `already covered by ${table.schema}.${covering.name}`,
      })
      return
    }
    found.set(key, { key, definition, origin, fingerprints })
  }

  const columnsByTable: Record<string, string[]> = {}
  for (const [relation, { table, templates, columns }] of uses) {
    const base = { schema: table.schema, table: table.name, method: 'btree' as const, include: [] as string[] }
    if (table.pages < minTablePages && table.rows >= 0) {
      for (const column of columns) {
        const definition: IndexDefinition = { ...base, keys: [column] }
        rejected.set(indexKey(definition), {
          key: indexKey(definition),
          definition,
          reason: `${relation} has only ${table.pages} page(s): reading it whole is as cheap as any index`,
        })
      }
      continue
    }
    columnsByTable[relation] = [...columns]
    const facts = new Map(table.columns.map((c) => [c.name, c]))
    const constants = workload.constants.filter((c) => c.relation === relation)

    for (const template of templates) {
      const fingerprints = [template.fingerprint]
      const shape = columnRoles(template, relation)
      for (const column of relevantColumns(template, relation))
        consider({ ...base, keys: [column] }, 'single', fingerprints)

      const keys = compositeKeys(shape, facts, maxKeyColumns)
      if (keys.length >= 2) consider({ ...base, keys }, 'composite', fingerprints)

      // Partial: the constant condition moves from the keys to the WHERE.
      for (const constant of constants) {
        if (!constant.fingerprints.includes(template.fingerprint)) continue
        const rest = compositeKeys(withoutColumn(shape, constant.column), facts, maxKeyColumns)
        const partial = partialOf(base, constant)
        if (rest.length === 0) continue
        consider({ ...partial, keys: rest.slice(0, 1) }, 'partial', fingerprints)
        if (rest.length >= 2) consider({ ...partial, keys: rest }, 'partial', fingerprints)
      }

      // Covering: the template's keys, and the rest of what it reads of the table in INCLUDE.
      const read = template.shape.referenced.find((r) => r.relation === relation)?.columns
      const coverKeys = keys.length > 0 ? keys : [...relevantColumns(template, relation)].slice(0, 1)
      if (read && read !== '*' && coverKeys.length > 0) {
        const include = read.filter((c) => !coverKeys.includes(c) && facts.has(c))
        const width = include.reduce((sum, c) => sum + (facts.get(c)?.width ?? 32), 0)
        if (include.length > 0 && include.length <= maxIncludeColumns && width <= maxIncludeBytes)
          consider({ ...base, keys: coverKeys, include }, 'covering', fingerprints)
      }

      // BRIN: a range over a column that follows the physical order of a large table.
      for (const column of shape.range) {
        const correlation = facts.get(column)?.correlation
        if (table.rows >= brinMinRows && correlation != null && Math.abs(correlation) >= brinMinCorrelation)
          consider({ ...base, method: 'brin', keys: [column] }, 'brin', fingerprints)
      }
    }
  }
  return { candidates: [...found.values()], rejected: [...rejected.values()], columnsByTable }
}

interface ColumnRoles {
  readonly equality: readonly string[]
  readonly range: readonly string[]
  readonly order: readonly string[]
}

/** A template's columns of one table by role; disjunctive conditions (under OR) only yield single-column candidates. */
function columnRoles(template: AnalyzedTemplate, relation: string): ColumnRoles {
  const { shape } = template
  const mine = <T extends { relation: string }>(xs: readonly T[]) => xs.filter((x) => x.relation === relation)
  const conjunctive = mine(shape.predicates).filter((p) => !p.disjunctive)
  const equality = unique([
    ...conjunctive.filter((p) => p.operator === 'eq' || p.operator === 'in').map((p) => p.column),
    ...mine(shape.joins).map((j) => j.column),
  ])
  const range = unique(conjunctive.filter((p) => p.operator === 'range').map((p) => p.column)).filter(
    (c) => !equality.includes(c),
  )
  // A sort helps only when all of it is on this table.
  const order = shape.orderBy.every((o) => o.relation === relation) ? unique(shape.orderBy.map((o) => o.column)) : []
  return { equality, range, order }
}

function relevantColumns(template: AnalyzedTemplate, relation: string): Set<string> {
  const { shape } = template
  const columns = new Set<string>()
  for (const p of shape.predicates) if (p.relation === relation && p.operator !== 'other') columns.add(p.column)
  for (const j of shape.joins) if (j.relation === relation) columns.add(j.column)
  const firstOrder = shape.orderBy[0]
  if (firstOrder?.relation === relation) columns.add(firstOrder.column)
  const firstGroup = shape.groupBy[0]
  if (firstGroup?.relation === relation) columns.add(firstGroup.column)
  return columns
}

/**
 * Equality columns first, the most selective first (more distinct values, then
 * a rarer most common value); then one range column; then the sort, when
 * there is no range column or the sort starts with it.
 */
function compositeKeys(roles: ColumnRoles, facts: ReadonlyMap<string, ColumnFacts>, max: number): string[] {
  const selectivity = (c: string) => {
    const f = facts.get(c)
    return [f?.distinct ?? 0, -(f?.topFrequency ?? 1)] as const
  }
  const equality = [...roles.equality].sort((a, b) => {
    const [da, fa] = selectivity(a)
    const [db, fb] = selectivity(b)
    return db - da || fb - fa || a.localeCompare(b)
  })
  const keys = [...equality]
  const range = [...roles.range].sort((a, b) => (selectivity(b)[0] ?? 0) - (selectivity(a)[0] ?? 0))[0]
  if (range) keys.push(range)
  if (!range || roles.order[0] === range) for (const c of roles.order) if (!keys.includes(c)) keys.push(c)
  return keys.slice(0, max)
}

function withoutColumn(roles: ColumnRoles, column: string): ColumnRoles {
  return {
    equality: roles.equality.filter((c) => c !== column),
    range: roles.range.filter((c) => c !== column),
    order: roles.order.filter((c) => c !== column),
  }
}

function partialOf(base: Omit<IndexDefinition, 'keys'>, constant: ConstantCondition): Omit<IndexDefinition, 'keys'> {
  return { ...base, predicate: constant.condition }
}

/**
 * A valid existing index that answers what the candidate would: a full index
 * of the same type whose leading keys are the candidate's, carrying its
 * INCLUDE columns; for BRIN, also a B-tree leading with the column.
 */
export function coveredBy(candidate: IndexDefinition, indexes: readonly ExistingIndex[]): ExistingIndex | undefined {
  return indexes.find((index) => {
    if (!index.valid || index.predicate !== null || candidate.predicate) return false
    const sameType = index.method === candidate.method || (candidate.method === 'brin' && index.method === 'btree')
    if (!sameType) return false
    if (!candidate.keys.every((k, i) => index.keys[i] === k)) return false
    const carried = new Set([...index.keys, ...index.include].filter((c): c is string => c !== null))
    return candidate.include.every((c) => carried.has(c))
  })
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)]
}
