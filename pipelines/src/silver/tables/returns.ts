import type { SilverTable } from '../silver-table.js'
import { orderExists, required } from './common-rules.js'

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
    ...required('return_id', 'order_id', 'quantity', 'returned_at', 'updated_at'),
    { name: 'quantity_positive', kind: 'range', column: 'quantity', min: 1, max: 10_000, action: 'quarantine' },
    { name: 'refund_not_negative', kind: 'range', column: 'refund_amount', min: 0, action: 'quarantine' },
    orderExists,
  ],
  mode: { kind: 'upsert' },
  dependsOn: ['orders'],
}
