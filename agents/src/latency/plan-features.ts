import { createHash } from 'node:crypto'
import type { QueryEvent } from '@cairn/core'
import type { ReadOnlyDb } from '@cairn/plugins'
import { type PlanRelation, type RelationSize, type RelationSizes, relationKey } from './relation-sizes.js'

/** The registry name of the latency model (`cairn models train latency`). */
export const latencyModelName = 'latency'

/**
 * The input signature of every latency model, in order: what a row of
 * `features` (float32 [N, F]) holds. `log_*` are ln(1 + x). Plan numbers are
 * the planner's estimates from EXPLAIN; column counts come from the statement's
 * QueryEvent; `cluster_id` is the workload cluster, -1 when unknown. A model
 * trained elsewhere must take exactly these, in this order.
 */
export const planFeatureNames = [
  'log_total_cost',
  'log_startup_cost',
  'log_plan_rows',
  'log_plan_width',
  'log_scan_rows',
  'log_max_node_rows',
  'log_seq_scan_pages',
  'log_seq_scan_tuples',
  'log_sort_rows',
  'log_hash_rows',
  'log_aggregate_input_rows',
  'log_inner_loops',
  'node_count',
  'plan_depth',
  'seq_scans',
  'index_scans',
  'index_only_scans',
  'bitmap_heap_scans',
  'bitmap_index_scans',
  'nested_loops',
  'hash_joins',
  'merge_joins',
  'hashes',
  'sorts',
  'incremental_sorts',
  'plain_aggregates',
  'sorted_aggregates',
  'hashed_aggregates',
  'window_aggregates',
  'limits',
  'uniques',
  'materializes',
  'memoizes',
  'gathers',
  'workers_planned',
  'subquery_scans',
  'appends',
  'subplans',
  'other_nodes',
  'relations',
  'log_relation_pages',
  'log_relation_tuples',
  'predicate_columns',
  'join_columns',
  'group_by_columns',
  'order_by_columns',
  'cluster_id',
] as const

export type PlanFeatureName = (typeof planFeatureNames)[number]

/** One node of `EXPLAIN (FORMAT JSON)` output. */
export interface PlanNode {
  readonly 'Node Type': string
  readonly 'Startup Cost'?: number
  readonly 'Total Cost'?: number
  readonly 'Plan Rows'?: number
  readonly 'Plan Width'?: number
  readonly 'Relation Name'?: string
  readonly Schema?: string
  readonly Strategy?: string
  readonly 'Parent Relationship'?: string
  readonly 'Workers Planned'?: number
  readonly Plans?: readonly PlanNode[]
}

export type StatementColumns = QueryEvent['columns']

/** What the latency predictor knows about a statement before it runs. */
export interface PlanSample {
  readonly features: number[]
  /** The plan's tree of node types and relations, e.g. `Limit(Sort(Seq Scan silver.orders))`. */
  readonly planShape: string
  /** First 16 hex digits of the shape's sha1. */
  readonly planHash: string
  readonly totalCost: number
}

const SCANS = new Set(['Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Heap Scan', 'Tid Scan', 'Tid Range Scan'])
const COUNTED: Record<string, PlanFeatureName> = {
  'Seq Scan': 'seq_scans',
  'Index Scan': 'index_scans',
  'Index Only Scan': 'index_only_scans',
  'Bitmap Heap Scan': 'bitmap_heap_scans',
  'Bitmap Index Scan': 'bitmap_index_scans',
  'Nested Loop': 'nested_loops',
  'Hash Join': 'hash_joins',
  'Merge Join': 'merge_joins',
  Hash: 'hashes',
  Sort: 'sorts',
  'Incremental Sort': 'incremental_sorts',
  WindowAgg: 'window_aggregates',
  Limit: 'limits',
  Unique: 'uniques',
  Materialize: 'materializes',
  Memoize: 'memoizes',
  Gather: 'gathers',
  'Gather Merge': 'gathers',
  'Subquery Scan': 'subquery_scans',
  'CTE Scan': 'subquery_scans',
  Append: 'appends',
  'Merge Append': 'appends',
}
const AGGREGATES: Record<string, PlanFeatureName> = {
  Plain: 'plain_aggregates',
  Sorted: 'sorted_aggregates',
  Hashed: 'hashed_aggregates',
  Mixed: 'hashed_aggregates',
}
const COLUMN_ROLES: Record<StatementColumns[number]['role'], PlanFeatureName> = {
  predicate: 'predicate_columns',
  join: 'join_columns',
  groupBy: 'group_by_columns',
  orderBy: 'order_by_columns',
}

const log1p = (x: number) => Math.log1p(Math.max(0, x))
const num = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/** The relations a plan reads, once each. */
export function planRelations(plan: PlanNode): PlanRelation[] {
  const seen = new Map<string, PlanRelation>()
  walk(plan, 0, (node) => {
    const name = node['Relation Name']
    if (!name) return
    const r: PlanRelation = node.Schema === undefined ? { name } : { schema: node.Schema, name }
    seen.set(relationKey(r), r)
  })
  return [...seen.values()]
}

/** The plan's node types and relations as a tree, literals and costs left out: what stays the same between runs. */
export function planShape(node: PlanNode): string {
  const name = node['Relation Name']
  const relation = name ? ` ${node.Schema ? `${node.Schema}.` : ''}${name}` : ''
  const strategy = node.Strategy ? ` ${node.Strategy}` : ''
  const children = node.Plans?.length ? `(${node.Plans.map(planShape).join(', ')})` : ''
  return `${node['Node Type']}${strategy}${relation}${children}`
}

/** The feature vector of an explained plan, in the order of `planFeatureNames`. */
export function planFeatures(
  plan: PlanNode,
  context: { sizes?: ReadonlyMap<string, RelationSize>; columns?: StatementColumns; clusterId?: number } = {},
): number[] {
  const f = Object.fromEntries(planFeatureNames.map((n) => [n, 0])) as Record<PlanFeatureName, number>
  let scanRows = 0
  let maxRows = 0
  let seqPages = 0
  let seqTuples = 0
  let sortRows = 0
  let hashRows = 0
  let aggregateInput = 0
  let innerLoops = 0
  walk(plan, 1, (node, depth) => {
    const type = node['Node Type']
    const rows = num(node['Plan Rows'])
    f.node_count++
    f.plan_depth = Math.max(f.plan_depth, depth)
    maxRows = Math.max(maxRows, rows)
    if (SCANS.has(type)) scanRows += rows
    const counted = COUNTED[type]
    if (counted) f[counted]++
    else if (type === 'Aggregate' || type === 'Group') f[AGGREGATES[node.Strategy ?? 'Sorted'] ?? 'sorted_aggregates']++
    else if (!['Bitmap Index Scan', 'BitmapAnd', 'BitmapOr', 'Result'].includes(type)) f.other_nodes++
    if (node['Parent Relationship'] === 'InitPlan' || node['Parent Relationship'] === 'SubPlan') f.subplans++
    f.workers_planned += num(node['Workers Planned'])
    if (type === 'Seq Scan' && node['Relation Name']) {
      const size = context.sizes?.get(relationKey(relationOf(node)))
      seqPages += size?.pages ?? 0
      seqTuples += size?.tuples ?? 0
    }
    if (type === 'Sort' || type === 'Incremental Sort') sortRows += rows
    if (type === 'Hash') hashRows += rows
    if (type === 'Aggregate' || type === 'Group' || type === 'WindowAgg')
      aggregateInput += num(node.Plans?.[0]?.['Plan Rows'])
    if (type === 'Nested Loop') innerLoops += num(node.Plans?.[0]?.['Plan Rows'])
  })
  const relations = planRelations(plan)
  let pages = 0
  let tuples = 0
  for (const r of relations) {
    const size = context.sizes?.get(relationKey(r))
    pages += size?.pages ?? 0
    tuples += size?.tuples ?? 0
  }
  f.log_total_cost = log1p(num(plan['Total Cost']))
  f.log_startup_cost = log1p(num(plan['Startup Cost']))
  f.log_plan_rows = log1p(num(plan['Plan Rows']))
  f.log_plan_width = log1p(num(plan['Plan Width']))
  f.log_scan_rows = log1p(scanRows)
  f.log_max_node_rows = log1p(maxRows)
  f.log_seq_scan_pages = log1p(seqPages)
  f.log_seq_scan_tuples = log1p(seqTuples)
  f.log_sort_rows = log1p(sortRows)
  f.log_hash_rows = log1p(hashRows)
  f.log_aggregate_input_rows = log1p(aggregateInput)
  f.log_inner_loops = log1p(innerLoops)
  f.relations = relations.length
  f.log_relation_pages = log1p(pages)
  f.log_relation_tuples = log1p(tuples)
  for (const c of context.columns ?? []) f[COLUMN_ROLES[c.role]]++
  f.cluster_id = context.clusterId ?? -1
  return planFeatureNames.map((n) => f[n])
}

/** The plan of a statement, as `EXPLAIN (FORMAT JSON, VERBOSE)` gives it; the statement is planned, never run. */
export async function explainPlan(
  db: ReadOnlyDb,
  text: string,
  params?: readonly (string | null)[],
): Promise<PlanNode> {
  // VERBOSE adds each relation's schema, which the size lookup needs.
  const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON, VERBOSE) ${text}`, params ?? [])
  const doc = rows[0]?.['QUERY PLAN']
  const parsed = typeof doc === 'string' ? (JSON.parse(doc) as unknown) : doc
  const plan = Array.isArray(parsed) ? (parsed[0] as { Plan?: PlanNode } | undefined)?.Plan : undefined
  if (!plan || typeof plan['Node Type'] !== 'string') throw new TypeError('EXPLAIN returned no plan')
  return plan
}

/** Features, shape and hash of an explained plan, relation sizes looked up (and cached) on the way. */
export async function describePlan(
  db: ReadOnlyDb,
  sizes: RelationSizes,
  plan: PlanNode,
  context: { columns?: StatementColumns; clusterId?: number } = {},
): Promise<PlanSample> {
  const relationSizes = await sizes.lookup(db, planRelations(plan))
  const shape = planShape(plan)
  return {
    features: planFeatures(plan, { ...context, sizes: relationSizes }),
    planShape: shape,
    planHash: createHash('sha1').update(shape).digest('hex').slice(0, 16),
    totalCost: num(plan['Total Cost']),
  }
}

/** EXPLAIN a statement and describe its plan: the features the latency model reads. */
export async function explainFeatures(
  db: ReadOnlyDb,
  sizes: RelationSizes,
  statement: { text: string; params?: readonly (string | null)[]; columns?: StatementColumns; clusterId?: number },
): Promise<PlanSample> {
  const plan = await explainPlan(db, statement.text, statement.params)
  return describePlan(db, sizes, plan, {
    ...(statement.columns ? { columns: statement.columns } : {}),
    ...(statement.clusterId !== undefined ? { clusterId: statement.clusterId } : {}),
  })
}

function relationOf(node: PlanNode): PlanRelation {
  const name = node['Relation Name'] as string
  return node.Schema === undefined ? { name } : { schema: node.Schema, name }
}

function walk(node: PlanNode, depth: number, visit: (node: PlanNode, depth: number) => void): void {
  visit(node, depth)
  for (const child of node.Plans ?? []) walk(child, depth + 1, visit)
}
