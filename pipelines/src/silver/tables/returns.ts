import type { SilverTable } from '../silver-table.js'

export const returns: SilverTable = {
  name: 'returns',
  bronze: 'returns',
  key: ['return_id'],
  version: 'updated_at',
  columns: [
    { name: 'return_id', type: 'bigint' },
    { name: 'order_id', type: 'bigint' },
    { name: 'line_no', type: 'integer' },
    { name: 'product_id', type: 'bigint' },
    { name: 'quantity', type: 'integer' },
    { name: 'reason', type: 'lower' },
    { name: 'refund_amount', type: 'numeric' },
    { name: 'returned_at', type: 'timestamptz' },
    { name: 'updated_at', type: 'timestamptz' },
  ],
  rules: [
    { name: 'return_id_present', kind: 'not_null', column: 'return_id', action: 'quarantine' },
    { name: 'order_id_present', kind: 'not_null', column: 'order_id', action: 'quarantine' },
    { name: 'quantity_present', kind: 'not_null', column: 'quantity', action: 'quarantine' },
    { name: 'returned_at_present', kind: 'not_null', column: 'returned_at', action: 'quarantine' },
    { name: 'updated_at_present', kind: 'not_null', column: 'updated_at', action: 'quarantine' },
    { name: 'quantity_positive', kind: 'range', column: 'quantity', min: 1, max: 10_000, action: 'quarantine' },
    { name: 'refund_not_negative', kind: 'range', column: 'refund_amount', min: 0, action: 'quarantine' },
    {
      name: 'order_exists',
      kind: 'references',
      column: 'order_id',
      table: 'silver.orders',
      targetColumn: 'order_id',
      action: 'warn',
    },
  ],
  mode: { kind: 'upsert' },
  dependsOn: ['orders'],
}
