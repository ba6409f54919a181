import { createHash } from 'node:crypto'
import { isParseNode, type ParseNode, positionalTarget, type StatementKind, unwrapParseNode } from '@cairn/core'
import { loadModule, parseSync } from 'libpg-query'
import { normalizeSql } from './normalize-sql.js'

/** A relation as written in the statement; `schema` is absent when search_path decides. */
export interface RelationRef {
  readonly schema?: string
  readonly name: string
}

export type ColumnRole = 'predicate' | 'join' | 'groupBy' | 'orderBy'

export interface ColumnUse {
  /** Undefined when the column cannot be tied to one relation (ambiguous, or from a subquery). */
  readonly relation?: RelationRef
  readonly column: string
  readonly role: ColumnRole
}

export interface StatementAnalysis {
  /** This statement's own text (a simple Query may hold several). */
  readonly text: string
  readonly normalizedText: string
  readonly fingerprint: string
  readonly kind: StatementKind
  readonly relationsRead: readonly RelationRef[]
  readonly relationsWritten: readonly RelationRef[]
  /** False when the same statement could answer differently with the same data. */
  readonly deterministic: boolean
  /** Why it is not deterministic (`calls now()`, `FOR UPDATE`, `temporary table`). */
  readonly nondeterministicReasons: readonly string[]
  readonly columns: readonly ColumnUse[]
}

/**
 * Functions whose result changes between calls with the same arguments, or
 * with the clock: a statement calling one is never served from a cache.
 */
const VOLATILE = new Set([
  'now',
  'random',
  'random_normal',
  'setseed',
  'nextval',
  'currval',
  'lastval',
  'setval',
  'clock_timestamp',
  'statement_timestamp',
  'transaction_timestamp',
  'timeofday',
  'txid_current',
  'txid_current_if_assigned',
  'pg_current_xact_id',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'pg_backend_pid',
  'pg_sleep',
  'pg_notify',
  'pg_advisory_lock',
  'pg_try_advisory_lock',
  'set_config',
  'current_setting',
  'pg_postmaster_start_time',
  'pg_conf_load_time',
  'inet_client_addr',
  'dblink',
  'pg_stat_get_activity',
  'pg_read_file',
  'lo_import',
  'lo_export',
  'age',
])

type Node = ParseNode
const isObj = isParseNode
const unwrap = unwrapParseNode
const positional = positionalTarget
const strings = (list: unknown): string[] =>
  Array.isArray(list) ? list.map((x) => (unwrap(x)?.[1].sval as string | undefined) ?? '').filter(Boolean) : []

/** Loads PostgreSQL's parser (WebAssembly); needed once before `analyzeSql`. */
export const loadSqlParser: () => Promise<void> = loadModule

/** Parses SQL (one or several statements) and describes each. Throws the parser's error for invalid SQL. */
export function analyzeSql(sql: string): StatementAnalysis[] {
  const tree = parseSync(sql) as { stmts?: { stmt: unknown; stmt_location?: number; stmt_len?: number }[] }
  const bytes = Buffer.from(sql)
  return (tree.stmts ?? []).map(({ stmt, stmt_location = 0, stmt_len }) => {
    // Locations are byte offsets into the UTF-8 text.
    const text = bytes
      .subarray(stmt_location, stmt_len ? stmt_location + stmt_len : bytes.length)
      .toString()
      .trim()
    const normalizedText = normalizeSql(text).text
    const walker = new StatementWalker()
    const [type, node] = unwrap(stmt) ?? ['Unknown', {}]
    walker.statement(type, node)
    return {
      text,
      normalizedText,
      fingerprint: createHash('sha1').update(normalizedText).digest('hex').slice(0, 16),
      kind: kindOf(type, node),
      relationsRead: dedupe(walker.read),
      relationsWritten: dedupe(walker.written),
      deterministic: walker.reasons.size === 0,
      nondeterministicReasons: [...walker.reasons],
      columns: dedupeColumns(walker.columns),
    }
  })
}

function kindOf(type: string, node: Node): StatementKind {
  switch (type) {
    case 'SelectStmt':
      return node.intoClause ? 'ddl' : 'select'
    case 'InsertStmt':
      return 'insert'
    case 'UpdateStmt':
      return 'update'
    case 'DeleteStmt':
      return 'delete'
    case 'MergeStmt':
      return 'update'
    case 'TransactionStmt':
      return 'transaction'
    case 'ExplainStmt':
    case 'VariableSetStmt':
    case 'VariableShowStmt':
    case 'CopyStmt':
    case 'VacuumStmt':
    case 'ListenStmt':
    case 'UnlistenStmt':
    case 'NotifyStmt':
    case 'PrepareStmt':
    case 'ExecuteStmt':
    case 'DeallocateStmt':
    case 'DiscardStmt':
    case 'LockStmt':
    case 'CheckPointStmt':
    case 'DeclareCursorStmt':
    case 'FetchStmt':
    case 'ClosePortalStmt':
    case 'DoStmt':
    case 'CallStmt':
    case 'LoadStmt':
    case 'ReindexStmt':
    case 'ClusterStmt':
    case 'RefreshMatViewStmt':
      return 'utility'
    default:
      return /^(Create|Alter|Drop|Rename|Comment|Grant|Truncate|Index|View|Rule|CompositeType|Define)/.test(type) ||
        type === 'IndexStmt' ||
        type === 'ViewStmt'
        ? 'ddl'
        : 'unknown'
  }
}

interface Scope {
  /** alias or table name → relation; undefined for a subquery or function in FROM. */
  readonly names: Map<string, RelationRef | undefined>
  readonly ctes: ReadonlySet<string>
}

/** Walks one statement's tree: relations read and written, volatility, and the columns that matter for indexes. */
class StatementWalker {
  readonly read: RelationRef[] = []
  readonly written: RelationRef[] = []
  readonly columns: ColumnUse[] = []
  readonly reasons = new Set<string>()

  statement(type: string, node: Node): void {
    const root: Scope = { names: new Map(), ctes: new Set() }
    switch (type) {
      case 'SelectStmt':
        if (node.intoClause) this.#write((unwrap({ RangeVar: (node.intoClause as Node).rel }) as [string, Node])[1])
        return this.#select(node, root)
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        const scope = this.#withCtes(node, root)
        const target = node.relation as Node
        const ref = this.#write(target)
        this.#bind(scope, target, ref)
        for (const item of (node.fromClause ?? node.usingClause ?? []) as unknown[]) this.#from(item, scope)
        if (type === 'MergeStmt') this.#from(node.sourceRelation, scope)
        if (node.selectStmt) this.#visit(node.selectStmt, scope)
        this.#columnsIn(node.whereClause, 'predicate', scope)
        this.#columnsIn(node.joinCondition, 'join', scope)
        this.#visit(node.whereClause, scope)
        this.#visit(node.targetList, scope)
        this.#visit(node.returningList, scope)
        return
      }
      case 'CopyStmt':
        if (node.relation) (node.is_from ? this.written : this.read).push(refOf(node.relation as Node))
        if (node.query) this.#visit(node.query, root)
        return
      case 'CreateTableAsStmt':
        this.#write(((node.into as Node).rel as Node) ?? {})
        return this.#visit(node.query, root)
      case 'ExplainStmt':
        return this.#visit(node.query, root)
      case 'DeclareCursorStmt':
        return this.#visit(node.query, root)
      case 'CreateStmt':
      case 'AlterTableStmt':
      case 'IndexStmt':
      case 'RefreshMatViewStmt':
      case 'ClusterStmt':
        if (node.relation) this.#write(node.relation as Node)
        return
      case 'TruncateStmt':
      case 'VacuumStmt':
        for (const r of (node.relations ?? node.rels ?? []) as unknown[]) {
          const u = unwrap(r)
          const rel = u?.[0] === 'VacuumRelation' ? (u[1].relation as Node) : u?.[1]
          if (rel && type === 'TruncateStmt') this.#write(rel)
        }
        return
      case 'ViewStmt':
        this.#write(node.view as Node)
        return this.#visit(node.query, root)
      case 'LockStmt':
        this.reasons.add('LOCK')
        return
      default:
        return this.#visit(node, root)
    }
  }

  #write(rangeVar: Node): RelationRef {
    const ref = refOf(rangeVar)
    this.written.push(ref)
    if (rangeVar.relpersistence === 't' || ref.schema === 'pg_temp') this.reasons.add('temporary table')
    return ref
  }

  #withCtes(node: Node, outer: Scope): Scope {
    const ctes = new Set(outer.ctes)
    const withClause = node.withClause as Node | undefined
    const list = (withClause?.ctes ?? []) as unknown[]
    for (const c of list) {
      const cte = unwrap(c)?.[1]
      if (cte?.ctename) ctes.add(cte.ctename as string)
    }
    const scope: Scope = { names: new Map(outer.names), ctes }
    for (const c of list) this.#visit(unwrap(c)?.[1].ctequery, scope)
    return scope
  }

  #select(node: Node, outer: Scope): void {
    if (node.op && node.op !== 'SETOP_NONE') {
      this.#visit(node.larg ? { SelectStmt: node.larg } : undefined, outer)
      this.#visit(node.rarg ? { SelectStmt: node.rarg } : undefined, outer)
      return
    }
    const base = this.#withCtes(node, outer)
    // A fresh scope per SELECT: its FROM names shadow the outer ones.
    const scope: Scope = { names: new Map(base.names), ctes: base.ctes }
    for (const item of (node.fromClause ?? []) as unknown[]) this.#from(item, scope)
    if (node.lockingClause) this.reasons.add('FOR UPDATE/SHARE')
    this.#columnsIn(node.whereClause, 'predicate', scope)
    this.#columnsIn(node.havingClause, 'predicate', scope)
    const targets = (node.targetList ?? []) as unknown[]
    for (const g of (node.groupClause ?? []) as unknown[]) this.#columnsIn(positional(g, targets), 'groupBy', scope)
    for (const s of (node.sortClause ?? []) as unknown[]) {
      this.#columnsIn(positional(unwrap(s)?.[1].node, targets), 'orderBy', scope)
    }
    this.#visit(node.targetList, scope)
    this.#visit(node.whereClause, scope)
    this.#visit(node.havingClause, scope)
    this.#visit(node.valuesLists, scope)
    this.#visit(node.limitCount, scope)
  }

  #from(item: unknown, scope: Scope): void {
    const u = unwrap(item)
    if (!u) return
    const [type, node] = u
    if (type === 'RangeVar') {
      const name = node.relname as string
      if (!node.schemaname && scope.ctes.has(name)) {
        scope.names.set(aliasOf(node) ?? name, undefined)
        return
      }
      const ref = refOf(node)
      this.read.push(ref)
      if (node.relpersistence === 't' || ref.schema === 'pg_temp') this.reasons.add('temporary table')
      this.#bind(scope, node, ref)
    } else if (type === 'JoinExpr') {
      this.#from(node.larg, scope)
      this.#from(node.rarg, scope)
      this.#columnsIn(node.quals, 'join', scope)
      this.#visit(node.quals, scope)
    } else if (type === 'RangeSubselect') {
      this.#visit(node.subquery, scope)
      const alias = (node.alias as Node | undefined)?.aliasname as string | undefined
      if (alias) scope.names.set(alias, undefined)
    } else {
      this.#visit(node, scope)
      const alias = (node.alias as Node | undefined)?.aliasname as string | undefined
      if (alias) scope.names.set(alias, undefined)
    }
  }

  #bind(scope: Scope, rangeVar: Node, ref: RelationRef): void {
    scope.names.set(aliasOf(rangeVar) ?? ref.name, ref)
  }

  /** Column references in an expression, tied to their relation through the scope. */
  #columnsIn(expr: unknown, role: ColumnRole, scope: Scope): void {
    if (expr === undefined) return
    const relations = [...scope.names.values()]
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(visit)
      const u = unwrap(v)
      if (!u) {
        if (isObj(v)) for (const x of Object.values(v)) visit(x)
        return
      }
      const [type, node] = u
      if (type === 'SelectStmt') return // inner queries have their own scope
      if (type === 'SubLink') return visit(node.testexpr) // `x IN (SELECT …)`: x is ours, the subquery is not
      if (type === 'ColumnRef') {
        const parts = strings(node.fields)
        if (parts.length === 0) return
        const column = parts[parts.length - 1] as string
        let relation: RelationRef | undefined
        if (parts.length >= 2) relation = scope.names.get(parts[parts.length - 2] as string)
        else if (relations.length === 1) relation = relations[0]
        this.columns.push(relation ? { relation, column, role } : { column, role })
        return
      }
      for (const x of Object.values(node)) visit(x)
    }
    visit(expr)
  }

  /** Everything else: functions (volatility), sublinks (nested queries with their own scopes). */
  #visit(v: unknown, scope: Scope): void {
    if (Array.isArray(v)) {
      for (const x of v) this.#visit(x, scope)
      return
    }
    const u = unwrap(v)
    if (!u) {
      if (isObj(v)) for (const x of Object.values(v)) this.#visit(x, scope)
      return
    }
    const [type, node] = u
    if (type === 'SelectStmt') return this.#select(node, scope)
    if (type === 'FuncCall') {
      const name = strings(node.funcname).at(-1)?.toLowerCase()
      if (name && VOLATILE.has(name)) this.reasons.add(`calls ${name}()`)
    } else if (type === 'SQLValueFunction') {
      const op = String(node.op ?? '')
      if (/DATE|TIME|LOCAL/.test(op)) this.reasons.add('reads the clock')
    } else if (type === 'RangeVar') {
      this.read.push(refOf(node))
      return
    }
    for (const x of Object.values(node)) this.#visit(x, scope)
  }
}

function refOf(rangeVar: Node): RelationRef {
  const name = rangeVar.relname as string
  const schema = rangeVar.schemaname as string | undefined
  return schema ? { schema, name } : { name }
}

function aliasOf(rangeVar: Node): string | undefined {
  return (rangeVar.alias as Node | undefined)?.aliasname as string | undefined
}

function dedupe(refs: readonly RelationRef[]): RelationRef[] {
  const seen = new Map<string, RelationRef>()
  for (const r of refs) seen.set(`${r.schema ?? ''}.${r.name}`, r)
  return [...seen.values()]
}

function dedupeColumns(cols: readonly ColumnUse[]): ColumnUse[] {
  const seen = new Map<string, ColumnUse>()
  for (const c of cols) seen.set(`${c.relation?.schema ?? ''}.${c.relation?.name ?? ''}.${c.column}.${c.role}`, c)
  return [...seen.values()]
}
