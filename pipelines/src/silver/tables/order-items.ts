import type { SilverTable } from '../silver-table.js'
import { orderExists, required } from './common-rules.js'

export const orderItems: SilverTable = {
  name: 'order_items',
  bronze: 'order_items',
  key: ['order_id', 'line_no'],
  version: 'updated_at',
  columns: [
    { name: 'order_id', type: 'bigint' },
    { name: 'line_no', type: 'integer' },
    { name: 'product_id', type: 'bigint' },
    { name: 'quantity', type: 'integer' },
    { name: 'unit_price', type: 'numeric' },
    { name: 'discount', type: 'numeric' },
    { name: 'updated_at', type: 'timestamptz' },
  ],
  rules: [
    ...required('order_id', 'line_no', 'product_id', 'quantity', 'unit_price', 'updated_at'),
    { name: 'quantity_positive', kind: 'range', column: 'quantity', min: 1, max: 10_000, action: 'quarantine' },
    { name: 'unit_price_not_negative', kind: 'range', column: 'unit_price', min: 0, action: 'quarantine' },
    {
      name: 'discount_within_line',
      kind: 'custom',
      failsWhen: 's.discount < 0 OR s.discount > s.quantity * s.unit_price',
      reason: `format('discount %s is outside [0, %s]', s.discount, s.quantity * s.unit_price)`,
      action: 'quarantine',
    },
    orderExists,
  ],
  mode: { kind: 'upsert' },
  inferred: [{ column: 'product_id', parent: 'products' }],
  dependsOn: ['orders', 'products'],
}
