import { isParseNode, type ParseNode, positionalTarget, unwrapParseNode } from '@cairn/core'
import { parseSync } from 'libpg-query'
import pg from 'pg'

/**
 * How a column is compared: `eq` (`=`, and `IS NULL`), `in` (`IN (…)`, `= ANY`),
 * `range` (`<`, `>=`, `BETWEEN`, `IS NOT NULL`), or `other` (what a plain
 * B-tree on the column cannot use: `<>`, `LIKE`, a function of the column).
 */
export type PredicateOperator = 'eq' | 'in' | 'range' | 'other'

export interface ColumnPredicate {
  readonly relation: string
  readonly column: string
  readonly operator: PredicateOperator
  /**
   * The condition as SQL with the literal it compares with (`"status" = 'paid'`,
   * `"shipped_at" IS NULL`), when the other side is a literal or a bound
   * parameter: what a partial index's WHERE would say.
   */
  readonly literal?: string
  /** Under an OR or NOT: only a bitmap OR of several indexes could use it. */
  readonly disjunctive: boolean
}

export interface ColumnRef {
  readonly relation: string
  readonly column: string
}

export interface StatementPredicates {
  readonly predicates: readonly ColumnPredicate[]
  /** Columns equated with another relation's (`o.customer_id = c.id`), or tested with `IN (SELECT …)`. */
  readonly joins: readonly ColumnRef[]
  readonly orderBy: readonly (ColumnRef & { readonly descending: boolean })[]
  readonly groupBy: readonly ColumnRef[]
  /** Every column the statement reads, per relation; `*` when it reads them all. */
  readonly referenced: readonly { readonly relation: string; readonly columns: readonly string[] | '*' }[]
  readonly limit: boolean
  /**
   * One SELECT, INSERT, UPDATE or DELETE and nothing else: what may be put
   * behind EXPLAIN (a text holding several statements never is).
   */
  readonly explainable: boolean
  /** The highest `$n` placeholder (0 without any): how many parameters a generic plan is explained with. */
  readonly parameters: number
}

export interface StatementPredicatesContext {
  /** The qualified name of a relation as written (`orders` → `silver.orders`); undefined when not a known table. */
  qualify(ref: { schema?: string; name: string }): string | undefined
  /** A known table's columns, to tie an unqualified column to one of several relations in scope. */
  columnsOf(relation: string): ReadonlySet<string> | undefined
}

type Node = ParseNode
const isObj = isParseNode
const unwrap = unwrapParseNode
const positional = positionalTarget
const strings = (list: unknown): string[] =>
  Array.isArray(list) ? list.map((x) => (unwrap(x)?.[1].sval as string | undefined) ?? '') : []

const EXPLAINABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt'])
const EQUALITY = new Set(['='])
const RANGE = new Set(['<', '<=', '>', '>='])
const MIRRORED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=' }

interface Scope {
  /** Alias or table name → qualified relation; null for a subquery, CTE or function in FROM. */
  readonly names: Map<string, string | null>
  readonly parent?: Scope
}

/**
 * Which columns a statement compares, joins, sorts and groups on, and with
 * which literals: what index candidates are built from. Reads the parse tree
 * (PostgreSQL's own parser, loaded with `loadModule` beforehand), so aliases,
 * subqueries and CTEs are told apart. A statement that does not parse yields
 * nothing.
 */
export function statementPredicates(
  text: string,
  params: readonly (string | null)[] | null,
  context: StatementPredicatesContext,
): StatementPredicates {
  const walker = new PredicateWalker(params ?? [], context)
  let explainable = false
  let parameters = 0
  try {
    const tree = parseSync(text) as { stmts?: { stmt: unknown }[] }
    const first = unwrap(tree.stmts?.[0]?.stmt)
    if (first) {
      walker.statement(first[0], first[1])
      explainable =
        tree.stmts?.length === 1 && EXPLAINABLE.has(first[0]) && !(first[0] === 'SelectStmt' && first[1].intoClause)
      parameters = highestParameter(first[1])
    }
  } catch {
    // Unparseable text (a dialect the parser does not know): no candidates from it.
  }
  return { ...walker.result(), explainable, parameters }
}

class PredicateWalker {
  readonly #predicates: ColumnPredicate[] = []
  readonly #joins: ColumnRef[] = []
  readonly #orderBy: (ColumnRef & { descending: boolean })[] = []
  readonly #groupBy: ColumnRef[] = []
  readonly #referenced = new Map<string, Set<string> | '*'>()
  #limit = false

  constructor(
    private readonly params: readonly (string | null)[],
    private readonly context: StatementPredicatesContext,
  ) {}

  result(): Omit<StatementPredicates, 'explainable' | 'parameters'> {
    return {
      predicates: this.#predicates,
      joins: dedupe(this.#joins),
      orderBy: this.#orderBy,
      groupBy: dedupe(this.#groupBy),
      referenced: [...this.#referenced].map(([relation, columns]) => ({
        relation,
        columns: columns === '*' ? '*' : [...columns],
      })),
      limit: this.#limit,
    }
  }

  statement(type: string, node: Node): void {
    const root: Scope = { names: new Map() }
    switch (type) {
      case 'SelectStmt':
        return this.#select(node, root, true)
      case 'UpdateStmt':
      case 'DeleteStmt': {
        const scope = this.#withCtes(node, root)
        this.#bindRangeVar(scope, node.relation as Node)
        for (const item of (node.fromClause ?? node.usingClause ?? []) as unknown[]) this.#from(item, scope)
        this.#conditions(node.whereClause, scope, false)
        this.#references(node.whereClause, scope)
        this.#references(node.targetList, scope)
        this.#references(node.returningList, scope)
        return
      }
      case 'InsertStmt': {
        const scope = this.#withCtes(node, root)
        const select = unwrap(node.selectStmt)
        if (select?.[0] === 'SelectStmt') this.#select(select[1], scope, false)
        return
      }
      default:
        return
    }
  }

  #withCtes(node: Node, outer: Scope): Scope {
    const scope: Scope = { names: new Map(), parent: outer }
    for (const c of ((node.withClause as Node | undefined)?.ctes ?? []) as unknown[]) {
      const cte = unwrap(c)?.[1]
      if (!cte) continue
      const query = unwrap(cte.ctequery)
      if (query?.[0] === 'SelectStmt') this.#select(query[1], scope, false)
      scope.names.set(cte.ctename as string, null)
    }
    return scope
  }

  /** `top`: only the outermost SELECT's ORDER BY and LIMIT say how the result is read. */
  #select(node: Node, outer: Scope, top: boolean): void {
    if (node.op && node.op !== 'SETOP_NONE') {
      if (node.larg) this.#select(node.larg as Node, outer, false)
      if (node.rarg) this.#select(node.rarg as Node, outer, false)
      return
    }
    const base = this.#withCtes(node, outer)
    const scope: Scope = { names: new Map(), parent: base }
    for (const item of (node.fromClause ?? []) as unknown[]) this.#from(item, scope)
    this.#conditions(node.whereClause, scope, false)
    const targets = (node.targetList ?? []) as unknown[]
    for (const g of (node.groupClause ?? []) as unknown[]) {
      const ref = this.#column(positional(g, targets), scope)
      if (ref) this.#groupBy.push(ref)
    }
    for (const s of (node.sortClause ?? []) as unknown[]) {
      const sortBy = unwrap(s)?.[1]
      const ref = sortBy ? this.#column(positional(sortBy.node, targets), scope) : undefined
      if (ref && sortBy && top) this.#orderBy.push({ ...ref, descending: sortBy.sortby_dir === 'SORTBY_DESC' })
    }
    if (top && node.limitCount) this.#limit = true
    for (const part of [node.targetList, node.whereClause, node.groupClause, node.havingClause, node.sortClause])
      this.#references(part, scope)
  }

  #from(item: unknown, scope: Scope): void {
    const u = unwrap(item)
    if (!u) return
    const [type, node] = u
    if (type === 'RangeVar') return this.#bindRangeVar(scope, node)
    if (type === 'JoinExpr') {
      this.#from(node.larg, scope)
      this.#from(node.rarg, scope)
      this.#conditions(node.quals, scope, false)
      this.#references(node.quals, scope)
      return
    }
    if (type === 'RangeSubselect') {
      const sub = unwrap(node.subquery)
      if (sub?.[0] === 'SelectStmt') this.#select(sub[1], scope, false)
    }
    const alias = (node.alias as Node | undefined)?.aliasname as string | undefined
    if (alias) scope.names.set(alias, null)
  }

  #bindRangeVar(scope: Scope, rangeVar: Node): void {
    const name = rangeVar.relname as string
    const schema = rangeVar.schemaname as string | undefined
    const alias = ((rangeVar.alias as Node | undefined)?.aliasname as string | undefined) ?? name
    if (!schema && isCte(scope, name)) {
      scope.names.set(alias, null)
      return
    }
    scope.names.set(alias, this.context.qualify(schema ? { schema, name } : { name }) ?? null)
  }

  /** A plain column reference (not a function of one), tied to its relation. */
  #column(expr: unknown, scope: Scope): ColumnRef | undefined {
    const u = unwrap(expr)
    if (u?.[0] !== 'ColumnRef') return undefined
    const fields = (u[1].fields ?? []) as unknown[]
    if (fields.some((f) => unwrap(f)?.[0] === 'A_Star')) return undefined
    const parts = strings(fields)
    const column = parts.at(-1)
    if (!column) return undefined
    if (parts.length >= 2) {
      const qualifier = parts[parts.length - 2] as string
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        if (s.names.has(qualifier)) {
          const relation = s.names.get(qualifier)
          return relation ? { relation, column } : undefined
        }
      }
      return undefined
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const relations = [...s.names.values()]
      if (relations.length === 0) continue
      const having = relations.filter((r) => r && this.context.columnsOf(r)?.has(column))
      if (having.length === 1) return { relation: having[0] as string, column }
      if (having.length > 1) return undefined
      if (relations.length === 1 && relations[0] && !this.context.columnsOf(relations[0])) {
        return { relation: relations[0], column }
      }
      // Not a column of any relation here (an output alias, or a column of a subquery): look outward.
      if (relations.some((r) => r === null)) return undefined
    }
    return undefined
  }

  /** WHERE and ON conditions: each conjunct that compares a column, with what it compares it to. */
  #conditions(expr: unknown, scope: Scope, disjunctive: boolean): void {
    const u = unwrap(expr)
    if (!u) return
    const [type, node] = u
    if (type === 'BoolExpr') {
      const inner = disjunctive || node.boolop !== 'AND_EXPR'
      for (const arg of (node.args ?? []) as unknown[]) this.#conditions(arg, scope, inner)
      return
    }
    if (type === 'NullTest') {
      const ref = this.#column(node.arg, scope)
      if (!ref) return
      const isNull = node.nulltesttype === 'IS_NULL'
      this.#predicate(ref, isNull ? 'eq' : 'range', disjunctive, `IS ${isNull ? '' : 'NOT '}NULL`)
      return
    }
    if (type === 'ColumnRef') {
      // `WHERE active`: a boolean column, true.
      const ref = this.#column(expr, scope)
      if (ref) this.#predicate(ref, 'eq', disjunctive, '= true')
      return
    }
    if (type === 'SubLink') {
      const ref = this.#column(node.testexpr, scope)
      // The subquery itself is walked with the references, in its own scope.
      if (ref && node.subLinkType === 'ANY_SUBLINK') this.#joins.push(ref)
      return
    }
    if (type !== 'A_Expr') return
    const op = strings(node.name).at(-1) ?? ''
    const left = this.#column(node.lexpr, scope)
    const right = this.#column(node.rexpr, scope)
    switch (node.kind) {
      case 'AEXPR_OP': {
        if (left && right) {
          if (EQUALITY.has(op) && left.relation !== right.relation) this.#joins.push(left, right)
          return
        }
        const [ref, other, mirrored] = left ? [left, node.rexpr, op] : [right, node.lexpr, MIRRORED[op] ?? op]
        if (!ref) return
        if (!this.#constantish(other)) return this.#predicate(ref, 'other', disjunctive)
        if (EQUALITY.has(mirrored)) {
          const literal = this.#literal(other)
          return this.#predicate(ref, 'eq', disjunctive, literal === undefined ? undefined : `= ${literal}`)
        }
        return this.#predicate(ref, RANGE.has(mirrored) ? 'range' : 'other', disjunctive)
      }
      case 'AEXPR_OP_ANY':
      case 'AEXPR_IN':
        if (left) this.#predicate(left, op === '=' && !right ? 'in' : 'other', disjunctive)
        return
      case 'AEXPR_BETWEEN':
      case 'AEXPR_BETWEEN_SYM':
        if (left) this.#predicate(left, 'range', disjunctive)
        return
      default:
        if (left) this.#predicate(left, 'other', disjunctive)
        if (right) this.#predicate(right, 'other', disjunctive)
    }
  }

  #predicate(ref: ColumnRef, operator: PredicateOperator, disjunctive: boolean, condition?: string): void {
    const literal = condition === undefined ? undefined : `${pg.escapeIdentifier(ref.column)} ${condition}`
    this.#predicates.push(
      literal === undefined ? { ...ref, operator, disjunctive } : { ...ref, operator, disjunctive, literal },
    )
  }

  /** No column in it: a literal, a parameter, `now() - interval '1 day'`. */
  #constantish(expr: unknown): boolean {
    let constant = true
    const visit = (v: unknown): void => {
      if (!constant) return
      if (Array.isArray(v)) return v.forEach(visit)
      const u = unwrap(v)
      if (!u) {
        if (isObj(v)) for (const x of Object.values(v)) visit(x)
        return
      }
      if (u[0] === 'ColumnRef' || u[0] === 'SubLink' || u[0] === 'SelectStmt') {
        constant = false
        return
      }
      for (const x of Object.values(u[1])) visit(x)
    }
    visit(expr)
    return constant
  }

  /** A literal or a bound parameter as SQL; undefined for anything computed. */
  #literal(expr: unknown): string | undefined {
    const u = unwrap(expr)
    if (!u) return undefined
    const [type, node] = u
    if (type === 'TypeCast') return this.#literal(node.arg)
    if (type === 'ParamRef') {
      const value = this.params[((node.number as number | undefined) ?? 0) - 1]
      return value === undefined ? undefined : value === null ? 'NULL' : pg.escapeLiteral(value)
    }
    if (type !== 'A_Const') return undefined
    if (node.isnull) return 'NULL'
    if (isObj(node.sval)) return pg.escapeLiteral(String(node.sval.sval ?? ''))
    // libpg-query leaves zero and false out of the tree.
    if (isObj(node.ival)) return String(node.ival.ival ?? 0)
    if (isObj(node.fval)) return String(node.fval.fval ?? '0')
    if (isObj(node.boolval)) return node.boolval.boolval ? 'true' : 'false'
    return undefined
  }

  /** Every column read: what a covering index must carry for an index-only scan. */
  #references(expr: unknown, scope: Scope): void {
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(visit)
      const u = unwrap(v)
      if (!u) {
        if (isObj(v)) for (const x of Object.values(v)) visit(x)
        return
      }
      const [type, node] = u
      if (type === 'SelectStmt') return this.#select(node, scope, false)
      if (type === 'ColumnRef') {
        const fields = (node.fields ?? []) as unknown[]
        if (fields.some((f) => unwrap(f)?.[0] === 'A_Star')) {
          const qualifier = strings(fields.slice(0, -1)).at(-1)
          for (const [alias, relation] of scope.names) {
            if (relation && (qualifier === undefined || qualifier === alias)) this.#referenced.set(relation, '*')
          }
          return
        }
        const ref = this.#column(v, scope)
        if (ref) {
          const seen = this.#referenced.get(ref.relation) ?? new Set<string>()
          if (seen !== '*') seen.add(ref.column)
          this.#referenced.set(ref.relation, seen)
        }
        return
      }
      for (const x of Object.values(node)) visit(x)
    }
    visit(expr)
    // A relation in scope whose columns are not named (count(*)) is still read.
    for (const relation of scope.names.values()) {
      if (relation && !this.#referenced.has(relation)) this.#referenced.set(relation, new Set())
    }
  }
}

function highestParameter(tree: unknown): number {
  let highest = 0
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit)
    if (!isObj(v)) return
    for (const [k, x] of Object.entries(v)) {
      if (k === 'ParamRef' && isObj(x)) highest = Math.max(highest, Number(x.number ?? 0))
      else visit(x)
    }
  }
  visit(tree)
  return highest
}

function isCte(scope: Scope, name: string): boolean {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (s.names.has(name) && s.names.get(name) === null) return true
  }
  return false
}

function dedupe(refs: readonly ColumnRef[]): ColumnRef[] {
  const seen = new Map<string, ColumnRef>()
  for (const r of refs) seen.set(`${r.relation}\u0000${r.column}`, r)
  return [...seen.values()]
}
