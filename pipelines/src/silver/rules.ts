/**
 * Data-quality rules, declared next to each silver table (see `tables/`).
 *
 * A rule looks at the staged rows of one step (typed columns, plus `_raw_<column>`
 * for the text as received and `payload`) and says which rows fail it. Its action
 * decides what happens to those rows:
 * - `warn`: the row is kept; the failure is counted.
 * - `drop`: the row is removed and counted as dropped.
 * - `quarantine`: the row goes to `cairn_meta.quarantine` with the rule, the reason and
 *   a reference to its bronze row.
 * - `fail`: the whole step rolls back and the run fails.
 * Rules run in the order declared; a row removed by one rule is not checked by later ones.
 */
export type RuleAction = 'warn' | 'drop' | 'quarantine' | 'fail'

interface RuleBase {
  /** Unique within its table, `[a-z0-9_]+`; results are recorded under `<table>.<name>`. */
  readonly name: string
  readonly action: RuleAction
}

export type Rule = RuleBase &
  (
    | { readonly kind: 'not_null'; readonly column: string }
    | { readonly kind: 'range'; readonly column: string; readonly min?: number; readonly max?: number }
    | { readonly kind: 'accepted_values'; readonly column: string; readonly values: readonly string[] }
    | { readonly kind: 'regex'; readonly column: string; readonly pattern: string }
    /** No other business key has the same value, in this batch or among current silver rows. */
    | { readonly kind: 'unique'; readonly column: string }
    /** The value exists in `table.column` (or is null). */
    | { readonly kind: 'references'; readonly column: string; readonly table: string; readonly targetColumn: string }
    /** `failsWhen` is a SQL predicate over the staged row `s`; `reason` a SQL text expression. */
    | { readonly kind: 'custom'; readonly failsWhen: string; readonly reason: string }
    /** Generated for every typed column: the raw text was present but did not cast. */
    | { readonly kind: 'type'; readonly column: string; readonly type: string }
    /** Generated: the source could not parse the record at all (`_unparseable`). */
    | { readonly kind: 'parseable' }
  )

export type RuleKind = Rule['kind']

/** A rule as SQL over the staged row alias `s`: which rows fail, and why (a text expression). */
export interface CompiledRule {
  readonly rule: Rule
  readonly failsWhen: string
  readonly reason: string
}

export interface RuleContext {
  /** The silver table the step writes, schema-qualified. */
  readonly target: string
  /** The business key columns. */
  readonly key: readonly string[]
  /** For SCD2 targets, current rows only. */
  readonly currentOnly: boolean
}

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${name}`)
  return `"${name}"`
}
const qualified = (name: string) => name.split('.').map(ident).join('.')
export const sqlLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`

export function compileRule(rule: Rule, ctx: RuleContext): CompiledRule {
  switch (rule.kind) {
    case 'not_null':
      return {
        rule,
        failsWhen: `s.${ident(rule.column)} IS NULL AND s.${ident(`_raw_${rule.column}`)} IS NULL`,
        reason: sqlLiteral(`${rule.column} is missing`),
      }
    case 'type':
      return {
        rule,
        failsWhen: `s.${ident(`_raw_${rule.column}`)} IS NOT NULL AND s.${ident(rule.column)} IS NULL`,
        reason: `format('%s %s is not a valid ${rule.type}', ${sqlLiteral(rule.column)}, quote_literal(s.${ident(`_raw_${rule.column}`)}))`,
      }
    case 'parseable':
      return {
        rule,
        failsWhen: 's._unparseable',
        reason: `'the source could not parse the record: ' || coalesce(s._parse_error, 'unknown error')`,
      }
    case 'range': {
      const c = `s.${ident(rule.column)}`
      const parts: string[] = []
      if (rule.min !== undefined) parts.push(`${c} < ${rule.min}`)
      if (rule.max !== undefined) parts.push(`${c} > ${rule.max}`)
      if (parts.length === 0) throw new Error(`range rule ${rule.name} has neither min nor max`)
      const bounds = `[${rule.min ?? '-inf'}, ${rule.max ?? 'inf'}]`
      return {
        rule,
        failsWhen: `(${parts.join(' OR ')})`,
        reason: `format('%s %s is outside ${bounds}', ${sqlLiteral(rule.column)}, ${c})`,
      }
    }
    case 'accepted_values':
      return {
        rule,
        failsWhen: `s.${ident(rule.column)} IS NOT NULL AND s.${ident(rule.column)} <> ALL (ARRAY[${rule.values.map(sqlLiteral).join(', ')}]::text[])`,
        reason: `format('%s %s is not one of ${rule.values.join(', ')}', ${sqlLiteral(rule.column)}, quote_literal(s.${ident(rule.column)}))`,
      }
    case 'regex':
      return {
        rule,
        failsWhen: `s.${ident(rule.column)} IS NOT NULL AND s.${ident(rule.column)} !~ ${sqlLiteral(rule.pattern)}`,
        reason: `format('%s %s does not match %s', ${sqlLiteral(rule.column)}, quote_literal(s.${ident(rule.column)}), ${sqlLiteral(rule.pattern)})`,
      }
    case 'unique': {
      // One uncorrelated subquery (computed once): the values held by more than one business key among
      // the staged rows still alive and the current silver rows with those values.
      const c = ident(rule.column)
      const key = (alias: string) => `(${ctx.key.map((k) => `${alias}.${ident(k)}`).join(', ')})`
      return {
        rule,
        failsWhen:
          `s.${c} IN (SELECT u.v FROM (` +
          `SELECT o.${c} AS v, ${key('o')} AS k FROM pg_temp.stage o WHERE o._fate IS NULL AND o.${c} IS NOT NULL` +
          ` UNION SELECT t.${c}, ${key('t')} FROM ${qualified(ctx.target)} t WHERE t.${c} IN (SELECT x.${c} FROM pg_temp.stage x)${ctx.currentOnly ? ' AND t.is_current' : ''}` +
          `) u GROUP BY u.v HAVING count(DISTINCT u.k) > 1)`,
        reason: `format('%s %s is used by another ${ctx.key.join(', ')}', ${sqlLiteral(rule.column)}, quote_literal(s.${c}))`,
      }
    }
    case 'references': {
      const c = `s.${ident(rule.column)}`
      return {
        rule,
        failsWhen: `${c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${qualified(rule.table)} r WHERE r.${ident(rule.targetColumn)} = ${c})`,
        reason: `format('%s %s has no match in ${rule.table}.${rule.targetColumn}', ${sqlLiteral(rule.column)}, ${c})`,
      }
    }
    case 'custom':
      return { rule, failsWhen: `(${rule.failsWhen})`, reason: rule.reason }
  }
}

export { ident, qualified }
