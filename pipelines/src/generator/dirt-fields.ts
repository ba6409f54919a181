import type { EntityName } from './generator-options.js'

/** Required fields that `missing_field` may drop, per entity. */
export const missingFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: ['email', 'signup_ts'],
  products: ['name', 'price'],
  orders: ['customer_id', 'order_ts'],
  order_items: ['quantity', 'product_id'],
  payments: ['amount', 'order_id'],
  returns: ['quantity', 'order_id'],
  clickstream_events: ['event_ts', 'session_id'],
}

/** Timestamp or number fields that `malformed` may break, per entity. */
export const malformedFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: ['signup_ts'],
  products: ['price'],
  orders: ['order_ts', 'total_amount'],
  order_items: ['unit_price'],
  payments: ['paid_at', 'amount'],
  returns: ['returned_at', 'refund_amount'],
  clickstream_events: ['event_ts'],
}

/** Number fields where `wrong_type` may put a word, per entity (none: not eligible). */
export const wrongTypeFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: [],
  products: ['price'],
  orders: ['total_amount'],
  order_items: ['quantity'],
  payments: ['amount'],
  returns: ['quantity'],
  clickstream_events: [],
}

/** The field `schema_drift_renamed` renames, and its new name, per entity. */
export const renamedFields: Readonly<Partial<Record<EntityName, readonly [string, string]>>> = {
  customers: ['email', 'email_address'],
  orders: ['total_amount', 'amount_total'],
  products: ['price', 'list_price'],
}

/** The field `schema_drift_extra` adds, and its values, per entity. */
export const extraFields: Readonly<Partial<Record<EntityName, readonly [string, readonly string[]]>>> = {
  orders: ['coupon_code', ['WELCOME10', 'SPRING15', 'FREESHIP', 'VIP20', 'BLACKFRIDAY', 'SAVE5']],
  clickstream_events: ['utm_campaign', ['newsletter', 'spring_sale', 'retargeting', 'brand_search', 'affiliate']],
  customers: ['loyalty_tier', ['bronze', 'silver', 'gold', 'platinum']],
}

/** Coded fields whose case a cleaner normalises (near duplicates flip it), per entity. */
export const codeFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: ['country', 'segment'],
  products: ['category', 'currency'],
  orders: ['status', 'channel', 'country', 'currency'],
  order_items: [],
  payments: ['method', 'currency', 'status'],
  returns: ['reason'],
  clickstream_events: ['event_type', 'device'],
}

/** Text fields a cleaner trims (near duplicates pad them), per entity. */
export const textFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: ['first_name', 'last_name', 'city', 'email'],
  products: ['name', 'brand', 'sku'],
  orders: [],
  order_items: [],
  payments: [],
  returns: [],
  clickstream_events: ['page_url'],
}

/** Amount fields (near duplicates write them as 2-decimal strings), per entity. */
export const amountFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: [],
  products: ['price'],
  orders: ['total_amount'],
  order_items: ['unit_price', 'discount'],
  payments: ['amount'],
  returns: ['refund_amount'],
  clickstream_events: [],
}

/** Integer fields near duplicates write as padded strings (` 2`), per entity. */
export const paddedNumberFields: Readonly<Record<EntityName, readonly string[]>> = {
  customers: [],
  products: [],
  orders: [],
  order_items: ['quantity'],
  payments: [],
  returns: ['quantity'],
  clickstream_events: [],
}

/** Currencies outside the accepted list, for `unknown_currency`. */
export const unknownCurrencies = ['JPY', 'CHF', 'BTC', 'XXX', 'EURO', 'US$'] as const
