import type pg from 'pg'

/** The values the analytic workload draws its parameters from, read from the warehouse itself. */
export interface WorkloadDomain {
  readonly maxCustomerId: number
  readonly maxProductId: number
  readonly maxOrderId: number
  readonly firstDay: string
  readonly lastDay: string
  readonly categories: readonly string[]
  readonly brands: readonly string[]
  readonly countries: readonly string[]
  readonly channels: readonly string[]
  readonly statuses: readonly string[]
  readonly segments: readonly string[]
  readonly rfmSegments: readonly string[]
  readonly paymentStatuses: readonly string[]
  readonly devices: readonly string[]
  /** Sample emails of current customers and session ids, for the lookups that need an existing one. */
  readonly emails: readonly string[]
  readonly sessions: readonly string[]
}

const list = async (pool: pg.Pool, sql: string): Promise<string[]> =>
  (await pool.query<{ v: string }>(sql)).rows.map((r) => r.v).filter((v) => v !== null)

/** Reads the domain; throws with a readable reason when there is no data to query. */
export async function loadWorkloadDomain(pool: pg.Pool): Promise<WorkloadDomain> {
  const { rows } = await pool.query<{
    max_customer: string | null
    max_product: string | null
    max_order: string | null
    first_day: string | null
    last_day: string | null
  }>(
    `SELECT (SELECT max(customer_id) FROM silver.customers) AS max_customer,
            (SELECT max(product_id) FROM silver.products) AS max_product,
            (SELECT max(order_id) FROM silver.orders) AS max_order,
            (SELECT min(order_ts)::date::text FROM silver.orders) AS first_day,
            (SELECT max(order_ts)::date::text FROM silver.orders) AS last_day`,
  )
  const r = rows[0]
  if (!r?.max_order || !r.max_customer || !r.max_product || !r.first_day || !r.last_day)
    throw new Error('the warehouse has no orders yet: load data first (`cairn demo` or `cairn start`)')
  const sample = (table: string, column: string) =>
    list(pool, `SELECT DISTINCT ${column} AS v FROM ${table} WHERE ${column} IS NOT NULL LIMIT 50`)
  return {
    maxCustomerId: Number(r.max_customer),
    maxProductId: Number(r.max_product),
    maxOrderId: Number(r.max_order),
    firstDay: r.first_day,
    lastDay: r.last_day,
    categories: await sample('silver.products', 'category'),
    brands: await sample('silver.products', 'brand'),
    countries: await sample('silver.orders', 'country'),
    channels: await sample('silver.orders', 'channel'),
    statuses: await sample('silver.orders', 'status'),
    segments: await sample('silver.customers', 'segment'),
    rfmSegments: await list(pool, 'SELECT DISTINCT rfm_segment AS v FROM gold.customer_360'),
    paymentStatuses: await sample('silver.payments', 'status'),
    devices: await sample('silver.clickstream_events', 'device'),
    emails: await list(
      pool,
      'SELECT email AS v FROM silver.customers WHERE is_current AND email IS NOT NULL ORDER BY customer_id LIMIT 2000',
    ),
    sessions: await list(pool, 'SELECT session_id AS v FROM silver.clickstream_events ORDER BY event_id LIMIT 2000'),
  }
}
