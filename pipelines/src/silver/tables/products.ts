import type { SilverTable } from '../silver-table.js'
import { required } from './common-rules.js'

export const products: SilverTable = {
  name: 'products',
  bronze: 'products',
  key: ['product_id'],
  version: 'updated_at',
  columns: [
    { name: 'product_id', type: 'bigint' },
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text' },
    { name: 'category', type: 'lower' },
    { name: 'brand', type: 'text' },
    { name: 'price', type: 'numeric', from: ['price', 'list_price'] },
    { name: 'currency', type: 'upper' },
    { name: 'updated_at', type: 'timestamptz' },
  ],
  rules: [
    ...required('product_id', 'updated_at', 'name', 'price'),
    { name: 'price_not_negative', kind: 'range', column: 'price', min: 0, max: 1_000_000, action: 'quarantine' },
    { name: 'category_present', kind: 'not_null', column: 'category', action: 'warn' },
    {
      name: 'currency_accepted',
      kind: 'accepted_values',
      column: 'currency',
      values: ['USD', 'EUR', 'GBP', 'CAD', 'AUD'],
      action: 'quarantine',
    },
  ],
  mode: { kind: 'scd2', changelog: 'products_changelog', tracked: ['category', 'brand', 'price'] },
  dependsOn: [],
}
