import type pg from 'pg'

/** The orders table's size, and the dates it covers (one row per order, in date order). */
export const GOLD_ROWS = 1_000_000
export const FIRST_DAY = '2024-01-01'
export const DAYS = 731
/** The last day with orders: dashboards look back from here. */
export const LAST_DAY = '2025-12-31'

export const CATEGORIES = [
  'electronics',
  'home',
  'fashion',
  'beauty',
  'sports',
  'toys',
  'grocery',
  'books',
  'garden',
  'automotive',
  'pets',
  'office',
] as const
export const CHANNELS = ['web', 'app', 'marketplace', 'store', 'phone'] as const
export const COUNTRIES = [
  'US',
  'DE',
  'GB',
  'FR',
  'JP',
  'CA',
  'ES',
  'IT',
  'NL',
  'AU',
  'SE',
  'PL',
  'BR',
  'MX',
  'IN',
  'BE',
  'AT',
  'CH',
  'DK',
  'NO',
] as const

/** Changes whenever the schema or the data below do, so an older dataset is rebuilt. */
const DATASET_VERSION = `cairn cache bench v1: ${GOLD_ROWS} rows from ${FIRST_DAY}`

const sqlArray = (values: readonly string[]) => `ARRAY[${values.map((v) => `'${v}'`).join(', ')}]`

/**
 * Popular values come first and are drawn more often (squares of uniform draws lean
 * towards index 1), as in a real catalogue; the seed makes the data the same in every run.
 */
const BUILD_SQL = [
  'DROP VIEW IF EXISTS gold_daily_sales, gold_large_orders',
  'DROP TABLE IF EXISTS gold_orders',
  `CREATE TABLE gold_orders (
    order_id bigint PRIMARY KEY,
    order_date date NOT NULL,
    category text NOT NULL,
    channel text NOT NULL,
    country text NOT NULL,
    units int NOT NULL,
    revenue numeric(12,2) NOT NULL
  )`,
  'SELECT setseed(0.42)',
  `INSERT INTO gold_orders
    SELECT g,
      DATE '${FIRST_DAY}' + ((g - 1) * ${DAYS} / ${GOLD_ROWS})::int,
      (${sqlArray(CATEGORIES)})[1 + floor(${CATEGORIES.length} * random() ^ 2)::int],
      (${sqlArray(CHANNELS)})[1 + floor(${CHANNELS.length} * random() ^ 1.5)::int],
      (${sqlArray(COUNTRIES)})[1 + floor(${COUNTRIES.length} * random() ^ 2.5)::int],
      u,
      round((u * (4 + 296 * random() ^ 3))::numeric, 2)
    FROM (SELECT g, 1 + floor(4 * random() ^ 2)::int AS u FROM generate_series(1, ${GOLD_ROWS}) AS g) AS orders`,
  'CREATE INDEX gold_orders_order_date ON gold_orders (order_date)',
  `CREATE VIEW gold_daily_sales AS
    SELECT order_date, category, channel, country,
      count(*) AS orders, sum(units) AS units, sum(revenue) AS revenue
    FROM gold_orders GROUP BY order_date, category, channel, country`,
  'CREATE VIEW gold_large_orders AS SELECT * FROM gold_orders WHERE revenue >= 500',
  `COMMENT ON TABLE gold_orders IS '${DATASET_VERSION}'`,
  'ANALYZE gold_orders',
]

/** Builds the gold tables and views unless this version of them is already there; true when it built them. */
export async function ensureGoldDataset(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ comment: string | null }>(
    "SELECT obj_description(to_regclass('public.gold_orders'), 'pg_class') AS comment",
  )
  if (rows[0]?.comment === DATASET_VERSION) return false
  await client.query('BEGIN')
  try {
    for (const sql of BUILD_SQL) await client.query(sql)
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
  return true
}
