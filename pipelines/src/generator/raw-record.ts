import { type EntityName, entityNames } from './generator-options.js'

/** One raw record: field name → value (numbers, strings or null; in CSV everything is text). */
export type RawRecord = Record<string, unknown>

/** Entity indexes, in the order of {@link entityNames}: faster to compare and index than names. */
export const CUSTOMERS = 0
export const PRODUCTS = 1
export const ORDERS = 2
export const ORDER_ITEMS = 3
export const PAYMENTS = 4
export const RETURNS = 5
export const CLICKSTREAM = 6

/** The name of an entity index. */
export function entityName(entity: number): EntityName {
  return entityNames[entity] as EntityName
}

/** The fields of each entity's records, key first, in the order of the record contract. */
export const entityFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: [
    'customer_id',
    'email',
    'first_name',
    'last_name',
    'phone',
    'country',
    'city',
    'segment',
    'signup_ts',
    'updated_at',
  ],
  products: ['product_id', 'sku', 'name', 'category', 'brand', 'price', 'currency', 'updated_at'],
  orders: [
    'order_id',
    'customer_id',
    'order_ts',
    'status',
    'channel',
    'country',
    'currency',
    'total_amount',
    'updated_at',
  ],
  order_items: ['order_id', 'line_no', 'product_id', 'quantity', 'unit_price', 'discount', 'updated_at'],
  payments: ['payment_id', 'order_id', 'method', 'amount', 'currency', 'paid_at', 'status', 'updated_at'],
  returns: [
    'return_id',
    'order_id',
    'line_no',
    'product_id',
    'quantity',
    'reason',
    'refund_amount',
    'returned_at',
    'updated_at',
  ],
  clickstream_events: [
    'event_id',
    'session_id',
    'customer_id',
    'event_type',
    'product_id',
    'event_ts',
    'device',
    'page_url',
  ],
}

/** Fields that only schema drift brings, per entity (renamed fields and extra fields). */
export const driftFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: ['email_address', 'loyalty_tier'],
  products: ['list_price'],
  orders: ['amount_total', 'coupon_code'],
  order_items: [],
  payments: [],
  returns: [],
  clickstream_events: ['utm_campaign'],
}

/** The CSV header of an entity: its contract fields, then its drift fields. */
export function csvColumns(entity: EntityName): readonly string[] {
  return [...entityFields[entity], ...driftFields[entity]]
}
