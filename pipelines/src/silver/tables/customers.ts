import type { SilverTable } from '../silver-table.js'
import { required } from './common-rules.js'

export const customers: SilverTable = {
  name: 'customers',
  bronze: 'customers',
  key: ['customer_id'],
  version: 'updated_at',
  columns: [
    { name: 'customer_id', type: 'bigint' },
    { name: 'email', type: 'lower', from: ['email', 'email_address'] },
    { name: 'first_name', type: 'text' },
    { name: 'last_name', type: 'text' },
    { name: 'phone', type: 'text' },
    { name: 'country', type: 'upper' },
    { name: 'city', type: 'text' },
    { name: 'segment', type: 'lower' },
    { name: 'signup_ts', type: 'timestamptz' },
    { name: 'updated_at', type: 'timestamptz' },
  ],
  rules: [
    ...required('customer_id'),
    { name: 'customer_id_positive', kind: 'range', column: 'customer_id', min: 1, action: 'quarantine' },
    ...required('updated_at', 'email', 'signup_ts'),
    {
      name: 'email_format',
      kind: 'regex',
      column: 'email',
      pattern: '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$',
      action: 'warn',
    },
    { name: 'email_unique', kind: 'unique', column: 'email', action: 'warn' },
    { name: 'country_code', kind: 'regex', column: 'country', pattern: '^[A-Z]{2}$', action: 'warn' },
    {
      name: 'segment_accepted',
      kind: 'accepted_values',
      column: 'segment',
      values: ['consumer', 'business', 'vip'],
      action: 'warn',
    },
  ],
  mode: { kind: 'scd2', changelog: 'customers_changelog', tracked: ['email', 'country', 'city', 'segment'] },
  dependsOn: [],
}
