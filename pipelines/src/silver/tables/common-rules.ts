import type { Rule } from '../rules.js'

/** One `<column>_present` rule per column: a row without it is quarantined. */
export function required(...columns: readonly string[]): Rule[] {
  return columns.map((column) => ({ name: `${column}_present`, kind: 'not_null', column, action: 'quarantine' }))
}

/** Rows whose order silver has not seen are kept, and counted (they may arrive before their order). */
export const orderExists: Rule = {
  name: 'order_exists',
  kind: 'references',
  column: 'order_id',
  table: 'silver.orders',
  targetColumn: 'order_id',
  action: 'warn',
}
