import type { Random } from '../generator/random.js'
import type { WorkloadDomain } from './workload-domain.js'

/** One query template of the demo analytic workload: its SQL with `$n` parameters and how to draw them. */
export interface AnalyticTemplate {
  readonly name: string
  /** Dashboard panels refresh often; ad-hoc questions come less often. */
  readonly kind: 'dashboard' | 'ad-hoc'
  /** Relative frequency among the templates. */
  readonly weight: number
  readonly sql: string
  params(domain: WorkloadDomain, random: Random): (string | number)[]
}

const DAY_MS = 86_400_000

/** Skewed towards low ids (a few customers and products are most of the traffic), as a Zipf-like tail. */
const skewedId = (random: Random, max: number) => Math.max(1, Math.min(max, Math.floor(max ** random.next())))
const pick = <T>(random: Random, values: readonly T[]): T => values[random.int(values.length)] as T
const day = (domain: WorkloadDomain, offsetDays: number) =>
  new Date(Date.parse(domain.firstDay) + offsetDays * DAY_MS).toISOString().slice(0, 10)
const spanDays = (domain: WorkloadDomain) =>
  Math.max(1, Math.round((Date.parse(domain.lastDay) - Date.parse(domain.firstDay)) / DAY_MS))
/** A window of `days` ending at a random day, recent days more likely (dashboards look at the last weeks). */
function window(domain: WorkloadDomain, random: Random, days: number): [string, string] {
  const span = spanDays(domain)
  const end = Math.max(days, span - Math.floor(span * random.next() ** 3))
  return [day(domain, end - days), day(domain, end)]
}

/**
 * The demo's analytic workload: 24 templates of dashboard and ad-hoc questions over
 * silver and gold, with parameter distributions (skewed customers and products,
 * recent date windows, categorical filters). Used by `cairn demo workload` and by
 * the index-advisor benchmark.
 */
export const analyticTemplates: readonly AnalyticTemplate[] = [
  {
    name: 'customer recent orders',
    kind: 'dashboard',
    weight: 12,
    sql: 'SELECT order_id, order_ts, status, total_amount FROM silver.orders WHERE customer_id = $1 ORDER BY order_ts DESC LIMIT 20',
    params: (d, r) => [skewedId(r, d.maxCustomerId)],
  },
  {
    name: 'order lines',
    kind: 'dashboard',
    weight: 10,
    sql: `SELECT i.line_no, p.name, i.quantity, i.unit_price FROM silver.order_items i
          JOIN silver.products p ON p.product_id = i.product_id AND p.is_current WHERE i.order_id = $1`,
    params: (d, r) => [1 + r.int(d.maxOrderId)],
  },
  {
    name: 'orders by status in a window',
    kind: 'dashboard',
    weight: 6,
    sql: 'SELECT count(*), sum(total_amount) FROM silver.orders WHERE status = $1 AND order_ts >= $2 AND order_ts < $3',
    params: (d, r) => [pick(r, d.statuses), ...window(d, r, 7)],
  },
  {
    name: 'paid revenue per day',
    kind: 'dashboard',
    weight: 6,
    sql: `SELECT date_trunc('day', order_ts) AS day, sum(total_amount) FROM silver.orders
          WHERE status = 'paid' AND order_ts >= $1 AND order_ts < $2 GROUP BY 1 ORDER BY 1`,
    params: (d, r) => window(d, r, 14),
  },
  {
    name: 'latest orders of a country',
    kind: 'dashboard',
    weight: 5,
    sql: `SELECT order_id, customer_id, total_amount FROM silver.orders
          WHERE country = $1 AND order_ts >= $2 ORDER BY order_ts DESC LIMIT 50`,
    params: (d, r) => [pick(r, d.countries), window(d, r, 3)[0]],
  },
  {
    name: 'product units and revenue',
    kind: 'dashboard',
    weight: 8,
    sql: 'SELECT sum(quantity) AS units, sum(quantity * unit_price) AS revenue FROM silver.order_items WHERE product_id = $1',
    params: (d, r) => [skewedId(r, d.maxProductId)],
  },
  {
    name: 'payments of an order',
    kind: 'dashboard',
    weight: 6,
    sql: 'SELECT method, amount, status, paid_at FROM silver.payments WHERE order_id = $1',
    params: (d, r) => [1 + r.int(d.maxOrderId)],
  },
  {
    name: 'payment outcomes by method',
    kind: 'ad-hoc',
    weight: 2,
    sql: `SELECT method, count(*), sum(amount) FROM silver.payments
          WHERE status = $1 AND paid_at >= $2 AND paid_at < $3 GROUP BY method`,
    params: (d, r) => [pick(r, d.paymentStatuses), ...window(d, r, 30)],
  },
  {
    name: 'return reasons of a product',
    kind: 'ad-hoc',
    weight: 3,
    sql: 'SELECT reason, count(*), sum(refund_amount) FROM silver.returns WHERE product_id = $1 GROUP BY reason',
    params: (d, r) => [skewedId(r, d.maxProductId)],
  },
  {
    name: 'latest returns',
    kind: 'dashboard',
    weight: 3,
    sql: 'SELECT return_id, order_id, reason, refund_amount FROM silver.returns WHERE returned_at >= $1 ORDER BY returned_at DESC LIMIT 100',
    params: (d, r) => [window(d, r, 7)[0]],
  },
  {
    name: 'customer by email',
    kind: 'dashboard',
    weight: 4,
    sql: 'SELECT customer_id, first_name, last_name, country, segment FROM silver.customers WHERE email = $1 AND is_current',
    params: (d, r) => [pick(r, d.emails)],
  },
  {
    name: 'customers of a country and segment',
    kind: 'ad-hoc',
    weight: 2,
    sql: 'SELECT count(*) FROM silver.customers WHERE country = $1 AND segment = $2 AND is_current',
    params: (d, r) => [pick(r, d.countries), pick(r, d.segments)],
  },
  {
    name: 'session clickstream',
    kind: 'dashboard',
    weight: 5,
    sql: 'SELECT event_type, event_ts, page_url FROM silver.clickstream_events WHERE session_id = $1 ORDER BY event_ts',
    params: (d, r) => [pick(r, d.sessions)],
  },
  {
    name: 'customer clicks by type',
    kind: 'ad-hoc',
    weight: 4,
    sql: 'SELECT event_type, count(*) FROM silver.clickstream_events WHERE customer_id = $1 GROUP BY event_type',
    params: (d, r) => [skewedId(r, d.maxCustomerId)],
  },
  {
    name: 'product views in a window',
    kind: 'dashboard',
    weight: 4,
    sql: `SELECT count(*) FROM silver.clickstream_events
          WHERE product_id = $1 AND event_type = 'product_view' AND event_ts >= $2`,
    params: (d, r) => [skewedId(r, d.maxProductId), window(d, r, 30)[0]],
  },
  {
    name: 'top products of a category',
    kind: 'dashboard',
    weight: 4,
    sql: 'SELECT product_id, name, price FROM silver.products WHERE category = $1 AND is_current ORDER BY price DESC LIMIT 20',
    params: (d, r) => [pick(r, d.categories)],
  },
  {
    name: 'brand price summary',
    kind: 'ad-hoc',
    weight: 2,
    sql: 'SELECT count(*), avg(price) FROM silver.products WHERE brand = $1 AND is_current',
    params: (d, r) => [pick(r, d.brands)],
  },
  {
    name: 'revenue per day',
    kind: 'dashboard',
    weight: 6,
    sql: 'SELECT sales_date, sum(revenue) FROM gold.daily_sales WHERE sales_date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1',
    params: (d, r) => window(d, r, 30),
  },
  {
    name: 'category revenue by channel',
    kind: 'dashboard',
    weight: 4,
    sql: 'SELECT channel, sum(revenue), sum(orders) FROM gold.daily_sales WHERE category = $1 AND sales_date >= $2 GROUP BY channel',
    params: (d, r) => [pick(r, d.categories), window(d, r, 90)[0]],
  },
  {
    name: 'country revenue per day',
    kind: 'dashboard',
    weight: 4,
    sql: 'SELECT sales_date, sum(revenue) FROM gold.daily_sales WHERE country = $1 AND sales_date BETWEEN $2 AND $3 GROUP BY 1 ORDER BY 1',
    params: (d, r) => [pick(r, d.countries), ...window(d, r, 60)],
  },
  {
    name: 'customer 360',
    kind: 'dashboard',
    weight: 6,
    sql: 'SELECT * FROM gold.customer_360 WHERE customer_id = $1',
    params: (d, r) => [skewedId(r, d.maxCustomerId)],
  },
  {
    name: 'top customers of an RFM segment',
    kind: 'ad-hoc',
    weight: 2,
    sql: `SELECT customer_id, lifetime_revenue, orders_count FROM gold.customer_360
          WHERE rfm_segment = $1 ORDER BY lifetime_revenue DESC LIMIT 20`,
    params: (d, r) => [pick(r, d.rfmSegments)],
  },
  {
    name: 'best sellers of a category',
    kind: 'dashboard',
    weight: 3,
    sql: `SELECT product_id, revenue, units_sold, conversion_rate FROM gold.product_performance
          WHERE category = $1 ORDER BY revenue DESC LIMIT 20`,
    params: (d, r) => [pick(r, d.categories)],
  },
  {
    name: 'customer spend per day',
    kind: 'ad-hoc',
    weight: 3,
    sql: 'SELECT sales_date, sum(gross_revenue - refunds) FROM gold.order_line_facts WHERE customer_id = $1 GROUP BY 1 ORDER BY 1',
    params: (d, r) => [skewedId(r, d.maxCustomerId)],
  },
  {
    name: 'funnel of a device',
    kind: 'dashboard',
    weight: 3,
    sql: `SELECT session_date, sessions, purchase_sessions, conversion_rate FROM gold.daily_funnel
          WHERE device = $1 AND session_date >= $2 ORDER BY session_date`,
    params: (d, r) => [pick(r, d.devices), window(d, r, 30)[0]],
  },
]

/** Draws the next template by weight. */
export function drawTemplate(
  random: Random,
  templates: readonly AnalyticTemplate[] = analyticTemplates,
): AnalyticTemplate {
  const total = templates.reduce((s, t) => s + t.weight, 0)
  let x = random.next() * total
  for (const t of templates) {
    x -= t.weight
    if (x < 0) return t
  }
  return templates[templates.length - 1] as AnalyticTemplate
}
