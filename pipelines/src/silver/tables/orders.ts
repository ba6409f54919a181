import type { SilverTable } from '../silver-table.js'
import { required } from './common-rules.js'

export const currencies = ['USD', 'EUR', 'GBP', 'CAD', 'AUD'] as const

export const orders: SilverTable = {
  name: 'orders',
  bronze: 'orders',
  key: ['order_id'],
  version: 'updated_at',
  columns: [
    { name: 'order_id', type: 'bigint' },
    { name: 'customer_id', type: 'bigint' },
    { name: 'order_ts', type: 'timestamptz' },
    { name: 'status', type: 'lower' },
    { name: 'channel', type: 'lower' },
    { name: 'country', type: 'upper' },
    { name: 'currency', type: 'upper' },
    { name: 'total_amount', type: 'numeric', from: ['total_amount', 'amount_total'] },
    { name: 'updated_at', type: 'timestamptz' },
  ],
  rules: [
    ...required('order_id', 'customer_id', 'order_ts', 'updated_at', 'status', 'currency', 'total_amount'),
    {
      name: 'status_accepted',
      kind: 'accepted_values',
      column: 'status',
      values: ['placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'],
      action: 'quarantine',
    },
    {
      name: 'currency_accepted',
      kind: 'accepted_values',
      column: 'currency',
      values: currencies,
      action: 'quarantine',
    },
    { name: 'total_amount_not_negative', kind: 'range', column: 'total_amount', min: 0, action: 'quarantine' },
    {
      name: 'channel_accepted',
      kind: 'accepted_values',
      column: 'channel',
      values: ['web', 'mobile_app', 'marketplace', 'store'],
      action: 'warn',
    },
    {
      name: 'order_ts_not_in_future',
      kind: 'custom',
      failsWhen: `s.order_ts > now() + interval '1 day'`,
      reason: `format('order_ts %s is in the future', s.order_ts)`,
      action: 'warn',
    },
  ],
  mode: { kind: 'upsert' },
  inferred: [{ column: 'customer_id', parent: 'customers' }],
  dependsOn: ['customers'],
}
