import type { SilverTable } from '../silver-table.js'
import { orderExists, required } from './common-rules.js'
import { currencies } from './orders.js'

export const payments: SilverTable = {
  name: 'payments',
  bronze: 'payments',
  key: ['payment_id'],
  version: 'updated_at',
  columns: [
    { name: 'payment_id', type: 'bigint' },
    { name: 'order_id', type: 'bigint' },
    { name: 'method', type: 'lower' },
    { name: 'amount', type: 'numeric' },
    { name: 'currency', type: 'upper' },
    { name: 'paid_at', type: 'timestamptz' },
    { name: 'status', type: 'lower' },
    { name: 'updated_at', type: 'timestamptz' },
  ],
  rules: [
    ...required('payment_id', 'order_id', 'amount', 'status', 'updated_at'),
    { name: 'amount_not_negative', kind: 'range', column: 'amount', min: 0, action: 'quarantine' },
    {
      name: 'currency_accepted',
      kind: 'accepted_values',
      column: 'currency',
      values: currencies,
      action: 'quarantine',
    },
    {
      name: 'status_accepted',
      kind: 'accepted_values',
      column: 'status',
      values: ['captured', 'failed', 'refunded'],
      action: 'quarantine',
    },
    {
      name: 'method_accepted',
      kind: 'accepted_values',
      column: 'method',
      values: ['card', 'paypal', 'bank_transfer', 'gift_card'],
      action: 'warn',
    },
    orderExists,
  ],
  mode: { kind: 'upsert' },
  dependsOn: ['orders'],
}
