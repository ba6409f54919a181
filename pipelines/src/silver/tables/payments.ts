import type { SilverTable } from '../silver-table.js'
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
    { name: 'payment_id_present', kind: 'not_null', column: 'payment_id', action: 'quarantine' },
    { name: 'order_id_present', kind: 'not_null', column: 'order_id', action: 'quarantine' },
    { name: 'amount_present', kind: 'not_null', column: 'amount', action: 'quarantine' },
    { name: 'status_present', kind: 'not_null', column: 'status', action: 'quarantine' },
    { name: 'updated_at_present', kind: 'not_null', column: 'updated_at', action: 'quarantine' },
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
