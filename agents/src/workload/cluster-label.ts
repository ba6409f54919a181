import type { TemplateShape } from './template-shape.js'

export type TemplateClass = 'writes' | 'aggregates' | 'top-N' | 'point lookups' | 'joins' | 'scans' | 'other statements'

/** At most one row, as ln(1 + rows). */
const ONE_ROW = Math.log(2) + 1e-9

/** What a template is, in one word a person recognises; the first rule that holds wins. */
export function templateClass(shape: TemplateShape, medianLogRows: number): TemplateClass {
  if (shape.kind === 'insert' || shape.kind === 'update' || shape.kind === 'delete') return 'writes'
  if (shape.kind !== 'select') return 'other statements'
  if (shape.aggregates > 0 || shape.groupBy > 0) return 'aggregates'
  if (shape.limit && shape.orderBy > 0) return 'top-N'
  if (shape.predicates > 0 && medianLogRows <= ONE_ROW) return 'point lookups'
  if (shape.joins > 0) return 'joins'
  return 'scans'
}

export interface LabelledTemplate {
  readonly shape: TemplateShape
  readonly medianLogRows: number
  readonly executions: number
}

/** The share of executions above which one class or relation names the cluster. */
const DOMINANT = 0.6
const FREQUENT_RELATION = 0.3

/**
 * A readable name for a cluster: its dominant kind of statement over its
 * dominant relations, joined with ⋈ when one template reads them together
 * ("aggregates over silver.order_items ⋈ silver.orders").
 */
export function clusterLabel(templates: readonly LabelledTemplate[]): string {
  const total = templates.reduce((n, t) => n + Math.max(1, t.executions), 0)
  const classes = new Map<TemplateClass, number>()
  const relations = new Map<string, number>()
  for (const t of templates) {
    const w = Math.max(1, t.executions)
    const c = templateClass(t.shape, t.medianLogRows)
    classes.set(c, (classes.get(c) ?? 0) + w)
    for (const r of t.shape.relations) relations.set(r, (relations.get(r) ?? 0) + w)
  }
  const rankedClasses = [...classes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  const [topClass, topWeight] = rankedClasses[0] ?? ['other statements', 0]
  const what =
    topWeight / total >= DOMINANT
      ? topClass
      : `mixed ${rankedClasses
          .slice(0, 2)
          .map(([c]) => c)
          .join(' and ')}`
  const ranked = [...relations].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([r, w]) => ({ r, w }))
  const frequent = ranked.filter(({ w }) => w / total >= FREQUENT_RELATION)
  // No relation stands out: name the three most read.
  const shown = (frequent.length > 0 ? frequent : ranked).slice(0, 3).map(({ r }) => r)
  const more = ranked.length - shown.length
  if (shown.length === 0) return what
  const joined = templates.some((t) => t.shape.joins > 0 && shown.every((r) => t.shape.relations.includes(r)))
  const preposition = what === 'writes' ? 'to' : what === 'point lookups' ? 'on' : 'over'
  return `${what} ${preposition} ${shown.join(joined && shown.length > 1 ? ' ⋈ ' : ', ')}${more > 0 ? ` (+${more} more)` : ''}`
}
