import { isParseNode, type ParseNode, type StatementKind, unwrapParseNode } from '@cairn/core'
import { loadModule, parseSync } from 'libpg-query'

/** What a query template does, read from its parse tree (or, when it does not parse, from the proxy's analysis). */
export interface TemplateShape {
  readonly kind: StatementKind
  /** Schema-qualified where the proxy resolved them; sorted. */
  readonly relations: readonly string[]
  /** Explicit JOINs plus the implicit ones of a FROM list with several items. */
  readonly joins: number
  /** Aggregate calls (`count`, `sum`, …, or any call with `*`, DISTINCT or FILTER), window calls excluded. */
  readonly aggregates: number
  readonly windows: number
  readonly groupBy: number
  readonly orderBy: number
  /** Leaf conditions of WHERE and HAVING (`a = $1 AND b > $2` counts 2). */
  readonly predicates: number
  readonly limit: boolean
  /** Sub-selects in expressions, in FROM, and CTEs. */
  readonly subqueries: number
  /** False when neither text parsed and the shape was estimated from the proxy's analysis. */
  readonly parsed: boolean
}

/** What the proxy already knows about the statement: the fallback when the text does not parse. */
export interface TemplateFacts {
  readonly kind: StatementKind
  readonly relations: readonly string[]
  readonly columns: readonly { readonly role: 'predicate' | 'join' | 'groupBy' | 'orderBy' }[]
}

const AGGREGATES = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'bool_and',
  'bool_or',
  'every',
  'bit_and',
  'bit_or',
  'bit_xor',
  'percentile_cont',
  'percentile_disc',
  'mode',
  'corr',
  'covar_pop',
  'covar_samp',
  'xmlagg',
  'range_agg',
  'range_intersect_agg',
])

type Node = ParseNode
const isObj = isParseNode
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const unwrap = unwrapParseNode

let parser: Promise<void> | undefined
/** Loads PostgreSQL's parser (WebAssembly) once per thread; `templateShape` needs it. */
export function loadTemplateParser(): Promise<void> {
  parser ??= loadModule()
  return parser
}

/**
 * The shape of a template. Tries the statement as sent first (always valid SQL),
 * then the normalized text (`$n` placeholders, which may not parse: `interval $1`),
 * then estimates from the proxy's facts. Call `loadTemplateParser()` first.
 */
export function templateShape(texts: readonly (string | undefined)[], facts: TemplateFacts): TemplateShape {
  for (const text of texts) {
    if (!text) continue
    const tree = tryParse(text)
    if (tree) return shapeOfTree(tree, facts)
  }
  return shapeOfFacts(texts.find(Boolean) ?? '', facts)
}

function tryParse(text: string): Node | undefined {
  try {
    const tree = parseSync(text) as { stmts?: { stmt: unknown }[] }
    const first = tree.stmts?.[0]?.stmt
    return isObj(first) ? first : undefined
  } catch {
    return undefined
  }
}

function shapeOfTree(stmt: Node, facts: TemplateFacts): TemplateShape {
  const counts = { joins: 0, aggregates: 0, windows: 0, groupBy: 0, orderBy: 0, predicates: 0, subqueries: 0 }
  const relations = new Set<string>()
  const ctes = new Set<string>()
  let limit = false
  let depth = 0
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x)
      return
    }
    if (!isObj(v)) return
    const u = unwrap(v)
    if (!u) {
      for (const x of Object.values(v)) visit(x)
      return
    }
    const [type, node] = u
    switch (type) {
      case 'SelectStmt':
        if (!node.op || node.op === 'SETOP_NONE') {
          counts.joins += Math.max(0, list(node.fromClause).length - 1)
          counts.groupBy += list(node.groupClause).length
          counts.orderBy += list(node.sortClause).length
          counts.predicates += leaves(node.havingClause)
          if (depth === 0 && node.limitCount) limit = true
        }
        break
      case 'JoinExpr':
        counts.joins++
        break
      case 'FuncCall': {
        const name = (unwrap(list(node.funcname).at(-1))?.[1].sval as string | undefined)?.toLowerCase() ?? ''
        if (node.over) counts.windows++
        else if (AGGREGATES.has(name) || node.agg_star || node.agg_distinct || node.agg_filter) counts.aggregates++
        break
      }
      case 'SubLink':
      case 'RangeSubselect':
        counts.subqueries++
        break
      case 'CommonTableExpr':
        counts.subqueries++
        if (typeof node.ctename === 'string') ctes.add(node.ctename)
        break
      case 'RangeVar': {
        const name = node.relname as string
        if (!node.schemaname && ctes.has(name)) break
        relations.add(node.schemaname ? `${node.schemaname as string}.${name}` : name)
        break
      }
    }
    if ('whereClause' in node) counts.predicates += leaves(node.whereClause)
    // Nested selects (sub-links, sub-selects, CTEs) do not own the statement's LIMIT.
    const nests = type === 'SubLink' || type === 'RangeSubselect' || type === 'CommonTableExpr'
    if (nests) depth++
    for (const x of Object.values(node)) visit(x)
    if (nests) depth--
  }
  // CTE names first, so a reference to one is not taken for a table.
  collectCtes(stmt, ctes)
  visit(stmt)
  return {
    kind: facts.kind,
    relations: facts.relations.length > 0 ? [...facts.relations].sort() : [...relations].sort(),
    ...counts,
    limit,
    parsed: true,
  }
}

function collectCtes(v: unknown, into: Set<string>): void {
  if (Array.isArray(v)) {
    for (const x of v) collectCtes(x, into)
    return
  }
  if (!isObj(v)) return
  const u = unwrap(v)
  if (u?.[0] === 'CommonTableExpr' && typeof u[1].ctename === 'string') into.add(u[1].ctename)
  for (const x of Object.values(u ? u[1] : v)) collectCtes(x, into)
}

/** Leaf conditions of a boolean expression: AND/OR/NOT are walked, anything else counts one. */
function leaves(expr: unknown): number {
  if (expr === undefined || expr === null) return 0
  const u = unwrap(expr)
  if (u?.[0] === 'BoolExpr') return list(u[1].args).reduce<number>((n, a) => n + leaves(a), 0)
  return 1
}

function shapeOfFacts(text: string, facts: TemplateFacts): TemplateShape {
  const roles = (role: string) => facts.columns.filter((c) => c.role === role).length
  const count = (re: RegExp) => text.match(re)?.length ?? 0
  return {
    kind: facts.kind,
    relations: [...facts.relations].sort(),
    joins: Math.ceil(roles('join') / 2),
    aggregates: count(/\b(count|sum|avg|min|max|array_agg|string_agg)\s*\(/gi),
    windows: count(/\bover\s*\(/gi),
    groupBy: roles('groupBy'),
    orderBy: roles('orderBy'),
    predicates: roles('predicate'),
    limit: /\blimit\b/i.test(text),
    subqueries: count(/\(\s*select\b/gi),
    parsed: false,
  }
}
