import pg from 'pg'
import type { CostedStatement } from './analyzed-workload.js'
import { hypotheticalIndexSql, type IndexDefinition, indexKey, qualifiedTable } from './index-definition.js'

/** What the planner estimates for one statement under one set of hypothetical indexes. */
export interface StatementCost {
  /** EXPLAIN's total cost, in the planner's cost units. */
  readonly total: number
  /** Keys of the hypothetical indexes the plan uses. */
  readonly used: readonly string[]
}

/** The prepared statement a generic plan is explained through. */
const GENERIC_STATEMENT = 'cairn_what_if'

/** HypoPG names its indexes `<oid>btree_table_column`. */
const HYPOTHETICAL_NAME = /^<(\d+)>/

/**
 * What-if costing with HypoPG on one connection of its own: hypothetical
 * indexes exist only in that session and only for the planner, so nothing is
 * built and nothing is locked. Each statement is explained with its real
 * parameters under the hypothetical indexes on the tables it reads; costs are
 * cached per statement and set of those indexes, so a greedy search re-costs
 * only what a step changes.
 */
export class WhatIfCosting {
  readonly #client: pg.ClientBase
  readonly #hypopg: string
  readonly #costs = new Map<string, StatementCost | null>()
  readonly #sizes = new Map<string, number>()
  readonly #errors = new Map<number, string>()
  #explains = 0

  /** `hypopgSchema`: where the extension's functions live. */
  constructor(client: pg.ClientBase, hypopgSchema: string) {
    this.#client = client
    this.#hypopg = pg.escapeIdentifier(hypopgSchema)
  }

  /** EXPLAINs run so far. */
  get explains(): number {
    return this.#explains
  }

  /** Why a statement could not be explained, by statement id. */
  get errors(): ReadonlyMap<number, string> {
    return this.#errors
  }

  /** The estimated size of an index, bytes (hypopg_relation_size); throws when HypoPG cannot simulate it. */
  async sizeOf(definition: IndexDefinition): Promise<number> {
    const key = indexKey(definition)
    const known = this.#sizes.get(key)
    if (known !== undefined) return known
    await this.#reset()
    try {
      const [oid] = await this.#create([definition])
      const { rows } = await this.#client.query<{ bytes: number }>(
        `SELECT ${this.#hypopg}.hypopg_relation_size($1)::float8 AS bytes`,
        [oid],
      )
      const bytes = Number(rows[0]?.bytes ?? 0)
      this.#sizes.set(key, bytes)
      return bytes
    } finally {
      await this.#reset()
    }
  }

  /**
   * Each statement's cost with `config`'s indexes (those on the tables it
   * reads) present, besides the real ones. Null for a statement PostgreSQL
   * could not explain.
   */
  async costs(
    statements: readonly CostedStatement[],
    config: readonly IndexDefinition[],
  ): Promise<Map<number, StatementCost | null>> {
    const result = new Map<number, StatementCost | null>()
    const pending = new Map<string, { indexes: IndexDefinition[]; statements: CostedStatement[] }>()
    for (const s of statements) {
      const indexes = config.filter((d) => s.tables.includes(qualifiedTable(d)))
      const signature = indexes.map(indexKey).sort().join('\n')
      const cached = this.#costs.get(`${s.id}\n${signature}`)
      if (cached !== undefined) {
        result.set(s.id, cached)
        continue
      }
      const group = pending.get(signature) ?? { indexes, statements: [] }
      group.statements.push(s)
      pending.set(signature, group)
    }
    for (const [signature, group] of pending) {
      await this.#reset()
      const oids = await this.#create(group.indexes)
      const keyOf = new Map(oids.map((oid, i) => [oid, indexKey(group.indexes[i] as IndexDefinition)]))
      for (const s of group.statements) {
        const plan = await this.#explain(s)
        const total = plan ? totalCost(plan) : Number.NaN
        const cost = Number.isFinite(total) ? { total, used: usedIndexes(plan, keyOf) } : null
        this.#costs.set(`${s.id}\n${signature}`, cost)
        result.set(s.id, cost)
      }
    }
    await this.#reset()
    return result
  }

  /** The plan (EXPLAIN FORMAT JSON) of one statement under `config`: what a latency predictor reads. */
  async plan(statement: CostedStatement, config: readonly IndexDefinition[]): Promise<unknown> {
    await this.#reset()
    try {
      await this.#create(config.filter((d) => statement.tables.includes(qualifiedTable(d))))
      return await this.#explain(statement)
    } finally {
      await this.#reset()
    }
  }

  async #reset(): Promise<void> {
    await this.#client.query(`SELECT ${this.#hypopg}.hypopg_reset()`)
  }

  async #create(indexes: readonly IndexDefinition[]): Promise<number[]> {
    const oids: number[] = []
    for (const d of indexes) {
      const { rows } = await this.#client.query<{ indexrelid: number }>(
        `SELECT indexrelid::int8::float8 AS indexrelid FROM ${this.#hypopg}.hypopg_create_index($1)`,
        [hypotheticalIndexSql(d)],
      )
      oids.push(Number(rows[0]?.indexrelid))
    }
    return oids
  }

  async #explain(s: CostedStatement): Promise<unknown | null> {
    this.#explains++
    try {
      if (s.genericParameters > 0) return await this.#explainGeneric(s)
      const sql = `EXPLAIN (FORMAT JSON) ${s.text}`
      const { rows } = await (s.params && s.params.length > 0
        ? this.#client.query<{ 'QUERY PLAN': unknown }>(sql, [...s.params])
        : this.#client.query<{ 'QUERY PLAN': unknown }>(sql))
      return rows[0]?.['QUERY PLAN'] ?? null
    } catch (err) {
      this.#errors.set(s.id, (err as Error).message)
      return null
    }
  }

  /**
   * A statement without its parameters, as pg_stat_statements keeps it:
   * prepared afresh (so the hypothetical indexes of the moment are seen) and
   * explained as a generic plan, which does not depend on the values.
   */
  async #explainGeneric(s: CostedStatement): Promise<unknown | null> {
    await this.#client.query(`PREPARE ${GENERIC_STATEMENT} AS ${s.text}`)
    try {
      await this.#client.query('SET plan_cache_mode = force_generic_plan')
      const nulls = Array.from({ length: s.genericParameters }, () => 'NULL').join(', ')
      const { rows } = await this.#client.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (FORMAT JSON) EXECUTE ${GENERIC_STATEMENT}(${nulls})`,
      )
      return rows[0]?.['QUERY PLAN'] ?? null
    } finally {
      await this.#client.query('RESET plan_cache_mode')
      await this.#client.query(`DEALLOCATE ${GENERIC_STATEMENT}`)
    }
  }
}

type PlanNode = { Plan?: PlanNode; Plans?: PlanNode[]; 'Total Cost'?: number; 'Index Name'?: string }

function totalCost(plan: unknown): number {
  const root = (Array.isArray(plan) ? plan[0] : plan) as PlanNode | undefined
  return Number(root?.Plan?.['Total Cost'] ?? Number.NaN)
}

function usedIndexes(plan: unknown, keyOf: ReadonlyMap<number, string>): string[] {
  const used = new Set<string>()
  const visit = (node: PlanNode | undefined): void => {
    if (!node) return
    const match = HYPOTHETICAL_NAME.exec(node['Index Name'] ?? '')
    const key = match ? keyOf.get(Number(match[1])) : undefined
    if (key) used.add(key)
    visit(node.Plan)
    for (const child of node.Plans ?? []) visit(child)
  }
  const root = Array.isArray(plan) ? plan[0] : plan
  visit(root as PlanNode)
  return [...used]
}
