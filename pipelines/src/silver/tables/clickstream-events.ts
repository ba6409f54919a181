import type { SilverTable } from '../silver-table.js'
import { required } from './common-rules.js'

export const clickstreamEvents: SilverTable = {
  name: 'clickstream_events',
  bronze: 'clickstream_events',
  key: ['event_id'],
  version: 'event_ts',
  columns: [
    { name: 'event_id', type: 'text' },
    { name: 'session_id', type: 'text' },
    { name: 'customer_id', type: 'bigint' },
    { name: 'event_type', type: 'lower' },
    { name: 'product_id', type: 'bigint' },
    { name: 'event_ts', type: 'timestamptz' },
    { name: 'device', type: 'lower' },
    { name: 'page_url', type: 'text' },
  ],
  rules: [
    ...required('event_id', 'session_id', 'event_ts'),
    {
      name: 'event_type_accepted',
      kind: 'accepted_values',
      column: 'event_type',
      values: ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'],
      action: 'quarantine',
    },
    ...required('event_type'),
    {
      name: 'product_on_product_events',
      kind: 'custom',
      failsWhen: `s.event_type IN ('product_view', 'add_to_cart') AND s.product_id IS NULL`,
      reason: `format('%s event without product_id', s.event_type)`,
      action: 'warn',
    },
    {
      name: 'device_accepted',
      kind: 'accepted_values',
      column: 'device',
      values: ['desktop', 'mobile', 'tablet'],
      action: 'warn',
    },
  ],
  mode: { kind: 'upsert' },
  dependsOn: ['customers', 'products'],
}
