import { z } from 'zod'

/** The raw entities, in the order of the record contract in pipelines/README.md. */
export const entityNames = [
  'customers',
  'products',
  'orders',
  'order_items',
  'payments',
  'returns',
  'clickstream_events',
] as const

/** One raw entity (the name of its bronze table and of its files). */
export type EntityName = (typeof entityNames)[number]

/**
 * The kinds of dirt the generator injects. Each rate is the share of the records a kind applies to
 * (its eligible records) that get it; a record gets at most one kind.
 *
 * - `duplicate`: a clean record emitted again, unchanged, up to 3 days later (every entity).
 * - `near_duplicate`: a clean record emitted again with cosmetic differences only: a code in another case
 *   (`usd`, `PAID`), text padded with spaces, an amount as a 2-decimal string (`"12.50"`), a quantity as
 *   a padded string, another field order. Same key, same `updated_at` (every entity).
 * - `late`: a valid record held back 2–14 days and emitted in a later chunk of its entity. On orders only
 *   an order's last version is eligible; customers and products are never late (see `orphan`).
 * - `out_of_order_update`: an older version emitted right after a newer one. Orders: any version but the
 *   last (the newer version it trails is kept clean). Customers and products: the share of updates that
 *   come as a quick pair of versions, the earlier one emitted after the later one.
 * - `missing_field`: a required field absent (customers `email`/`signup_ts`, products `name`/`price`,
 *   orders `customer_id`/`order_ts`, order items `quantity`/`product_id`, payments `amount`/`order_id`,
 *   returns `quantity`/`order_id`, clickstream `event_ts`/`session_id`).
 * - `malformed`: an unparseable timestamp (`2025-14-37T61:05`) or number (`12.34.5`).
 * - `wrong_type`: a word where a number belongs (`"three"`): products, orders, order items, payments, returns.
 * - `negative_quantity`: `quantity` below zero on order items and returns.
 * - `unknown_currency`: a currency outside the accepted list on orders and payments.
 * - `orphan`: the share of orders placed by a new customer whose customer record is emitted in a later
 *   part than the order (the orders are the counted records). Orders in the last part are not eligible.
 * - `schema_drift_extra`: an extra field: `coupon_code` (orders), `utm_campaign` (clickstream events),
 *   `loyalty_tier` (customers).
 * - `schema_drift_renamed`: a renamed field: customers `email` → `email_address`, orders
 *   `total_amount` → `amount_total`, products `price` → `list_price`.
 */
export const dirtKinds = [
  'duplicate',
  'near_duplicate',
  'late',
  'out_of_order_update',
  'missing_field',
  'malformed',
  'wrong_type',
  'negative_quantity',
  'unknown_currency',
  'orphan',
  'schema_drift_extra',
  'schema_drift_renamed',
] as const

/** One kind of dirt; see {@link dirtKinds}. */
export type DirtKind = (typeof dirtKinds)[number]

/** The rate of each dirt kind among its eligible records, when the options do not set it. */
export const defaultDirtRates: Readonly<Record<DirtKind, number>> = {
  duplicate: 0.01,
  near_duplicate: 0.005,
  late: 0.01,
  out_of_order_update: 0.01,
  missing_field: 0.004,
  malformed: 0.003,
  wrong_type: 0.002,
  negative_quantity: 0.004,
  unknown_currency: 0.003,
  orphan: 0.02,
  schema_drift_extra: 0.005,
  schema_drift_renamed: 0.003,
}

/** The default browse sessions per order; see {@link ClickstreamOptions.browseSessionsPerOrder}. */
export const defaultBrowseSessionsPerOrder = 1.2

/** Clickstream volume. */
export interface ClickstreamOptions {
  /**
   * Sessions without a purchase, per order (spread over the days like the orders). Web and app orders
   * (80% of orders) each come with a purchase session of about 6.5 events (a landing page_view for a
   * third of them, then product_view and add_to_cart of each product, checkout, purchase); a browse
   * session has about 2 events: a page_view, then 45% go on to view 1–3 products, 20% of those add one
   * to the cart and 30% of those reach checkout, none buys.
   *
   * The default 1.2 gives about 7.6 events per order and a compressed funnel: of all sessions 67%
   * view a product, 45% add to cart, 42% reach checkout and 40% purchase (0.8 purchase sessions in 2
   * sessions per order), far above a real shop's 2–4% conversion, to keep the volume small. 25 gives a
   * realistic 3% conversion at about 56 events per order.
   */
  readonly browseSessionsPerOrder: number
}

/** Generator options after defaults are applied. */
export interface ResolvedGeneratorOptions {
  /** Seed of every random choice: the same options give byte-identical output. */
  readonly seed: number
  /** Orders placed over the whole timeline (exactly). */
  readonly orders: number
  /** First day of the timeline, `YYYY-MM-DD` (UTC). */
  readonly start: string
  /** Days in the timeline. */
  readonly days: number
  /**
   * Distinct customers who place orders (at most `orders`). A customer is emitted when they place their
   * first order, so the customer count in the output is min(customers, orders).
   */
  readonly customers: number
  /** Products in the catalog, all emitted at the start of part 0. */
  readonly products: number
  /** Days per part: `part` of a chunk is its day index divided by this. */
  readonly partDays: number
  /** Records per chunk at most. */
  readonly chunkSize: number
  readonly clickstream: ClickstreamOptions
  /** The rate of each dirt kind (all 0 for `dirt: 'none'`). */
  readonly dirt: Readonly<Record<DirtKind, number>>
}

const rate = z.number().min(0).max(0.2)
const wholeNumber = (min: number, max: number) => z.number().int().min(min).max(max)

/**
 * The generator options, validated, with defaults: `seed` 42, `start` '2025-01-01', `days` 365,
 * `customers` max(100, round(orders / 4)), `products` max(50, round(orders / 200)) capped at 20 000,
 * `partDays` 30, `chunkSize` 1000, `clickstream.browseSessionsPerOrder` 1.2, `dirt` the default rates
 * (a partial object overrides single kinds; `'none'` turns dirt off).
 */
export const generatorOptionsSchema = z
  .strictObject({
    seed: z.number().int().default(42),
    orders: wholeNumber(1, 100_000_000),
    start: z.iso
      .date()
      .refine((d) => d >= '1970-01-01' && d < '2095-01-01', { error: 'expected a date from 1970 to 2094' })
      .default('2025-01-01'),
    days: wholeNumber(1, 3660).default(365),
    customers: wholeNumber(1, 100_000_000).optional(),
    products: wholeNumber(1, 100_000).optional(),
    partDays: wholeNumber(1, 3660).default(30),
    chunkSize: wholeNumber(1, 1_000_000).default(1000),
    clickstream: z
      .strictObject({ browseSessionsPerOrder: z.number().min(0).max(1000).default(defaultBrowseSessionsPerOrder) })
      .default({ browseSessionsPerOrder: defaultBrowseSessionsPerOrder }),
    dirt: z
      .union([z.literal('none'), z.partialRecord(z.enum(dirtKinds), rate)])
      .default({})
      .refine((d) => d === 'none' || Object.values(d).reduce((a, b) => a + (b ?? 0), 0) <= 0.9, {
        error: 'the dirt rates add up to more than 0.9',
      }),
  })
  .transform(
    (o): ResolvedGeneratorOptions => ({
      seed: o.seed,
      orders: o.orders,
      start: o.start,
      days: o.days,
      customers: o.customers ?? Math.max(100, Math.round(o.orders / 4)),
      products: o.products ?? Math.min(20_000, Math.max(50, Math.round(o.orders / 200))),
      partDays: o.partDays,
      chunkSize: o.chunkSize,
      clickstream: o.clickstream,
      dirt: resolveDirt(o.dirt),
    }),
  )

/** Options of {@link generate}: `orders` is required, everything else has a default. */
export type GeneratorOptions = z.input<typeof generatorOptionsSchema>

function resolveDirt(dirt: 'none' | Partial<Record<DirtKind, number>>): Record<DirtKind, number> {
  const rates = { ...defaultDirtRates }
  for (const kind of dirtKinds) rates[kind] = dirt === 'none' ? 0 : (dirt[kind] ?? defaultDirtRates[kind])
  return rates
}

/** Validates the options and applies the defaults; throws a ZodError on invalid options. */
export function resolveGeneratorOptions(options: GeneratorOptions): ResolvedGeneratorOptions {
  return generatorOptionsSchema.parse(options)
}
