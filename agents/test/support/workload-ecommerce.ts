export { seededRandom as prng } from '../../src/seeded-random.js'

import { performance } from 'node:perf_hooks'
import type { QueryEvent } from '@cairn/core'
import { analyzeSql, loadSqlParser, type RelationRef } from '@cairn/proxy'
import type pg from 'pg'
import { seededRandom } from '../../src/seeded-random.js'

/** Fills the silver and gold tables the templates read, deterministically (no random()). */
export async function seedEcommerce(pool: pg.Pool): Promise<void> {
  await pool.query(`
    INSERT INTO silver.customers (customer_id, email, first_name, last_name, country, city, segment, signup_ts,
                                  valid_from, is_current)
    SELECT i, 'c' || i || '@example.com', 'First' || i, 'Last' || i, (ARRAY['US','DE','FR','GB','CA'])[1 + i % 5],
           'City' || (i % 40), (ARRAY['consumer','business','vip'])[1 + i % 3], '2025-01-01'::timestamptz + i * interval '1 hour',
           '2025-01-01', true
    FROM generate_series(1, 2000) i;
    INSERT INTO silver.products (product_id, sku, name, category, brand, price, currency, valid_from, is_current)
    SELECT i, 'SKU' || i, 'Product ' || i, (ARRAY['books','toys','garden','kitchen','sports','music'])[1 + i % 6],
           'Brand' || (i % 25), 5 + (i % 97), 'USD', '2025-01-01', true
    FROM generate_series(1, 300) i;
    INSERT INTO silver.orders (order_id, customer_id, order_ts, status, channel, country, currency, total_amount,
                               updated_at, row_hash, bronze_id, change_seq)
    SELECT i, 1 + (i * 7) % 2000, '2025-06-01'::timestamptz + (i % 180) * interval '1 day' + (i % 24) * interval '1 hour',
           (ARRAY['placed','paid','shipped','delivered','returned','cancelled'])[1 + i % 6],
           (ARRAY['web','app','store'])[1 + i % 3], (ARRAY['US','DE','FR','GB','CA'])[1 + i % 5], 'USD',
           10 + (i % 500), now(), md5(i::text), i, 1
    FROM generate_series(1, 8000) i;
    INSERT INTO silver.order_items (order_id, line_no, product_id, quantity, unit_price, discount, updated_at, row_hash,
                                    bronze_id, change_seq)
    SELECT o, l, 1 + (o * 13 + l * 31) % 300, 1 + (o + l) % 4, 5 + (o * l) % 97, 0, now(), md5(o || '-' || l), o * 10 + l, 1
    FROM generate_series(1, 8000) o, generate_series(1, 3) l;
    INSERT INTO silver.payments (payment_id, order_id, method, amount, currency, paid_at, status, updated_at, row_hash,
                                 bronze_id, change_seq)
    SELECT i, i, (ARRAY['card','paypal','transfer'])[1 + i % 3], 10 + (i % 500), 'USD', now(), 'captured', now(),
           md5(i::text), i, 1
    FROM generate_series(1, 8000) i;
    INSERT INTO silver.clickstream_events (event_id, session_id, customer_id, event_type, product_id, event_ts, device,
                                           page_url, row_hash, bronze_id, change_seq)
    SELECT 'e' || i, 's' || (i / 6), 1 + i % 2000, (ARRAY['page_view','product_view','add_to_cart','checkout','purchase'])[1 + i % 5],
           1 + i % 300, '2025-06-01'::timestamptz + (i % 180) * interval '1 day', (ARRAY['mobile','desktop','tablet'])[1 + i % 3],
           '/p/' || (i % 300), md5(i::text), i, 1
    FROM generate_series(1, 12000) i;
    INSERT INTO gold.daily_sales (sales_date, category, channel, country, orders, units, returned_units, gross_revenue,
                                  refunds, revenue, avg_order_value, unique_customers)
    SELECT '2025-06-01'::date + d, c, ch, co, 10 + (d % 7), 30, 1, 1000 + d, 10, 990 + d, 99, 8
    FROM generate_series(0, 179) d, unnest(ARRAY['books','toys','garden']) c, unnest(ARRAY['web','app']) ch,
         unnest(ARRAY['US','DE']) co;
    INSERT INTO gold.customer_360_base (customer_id, country, segment, orders_count, lifetime_revenue, first_order_ts,
                                        last_order_ts, avg_order_value)
    SELECT i, (ARRAY['US','DE','FR','GB','CA'])[1 + i % 5], 'consumer', 1 + i % 9, 50 + (i * 37) % 5000,
           '2025-06-01', '2025-06-01'::timestamptz + (i % 180) * interval '1 day', 50
    FROM generate_series(1, 2000) i;
    REFRESH MATERIALIZED VIEW gold.customer_360;
    INSERT INTO gold.product_performance (product_id, category, views, add_to_carts, purchases, units_sold,
                                          returned_units, revenue, conversion_rate, return_rate)
    SELECT i, (ARRAY['books','toys','garden','kitchen','sports','music'])[1 + i % 6], 100 + i, 20, 10, 15, 1,
           (i * 53) % 10000, 0.1, 0.05
    FROM generate_series(1, 300) i;
    INSERT INTO gold.daily_funnel (session_date, device, sessions, product_view_sessions, add_to_cart_sessions,
                                   checkout_sessions, purchase_sessions, conversion_rate)
    SELECT '2025-06-01'::date + d, dev, 100, 60, 20, 10, 5, 0.05
    FROM generate_series(0, 179) d, unnest(ARRAY['mobile','desktop','tablet']) dev;
    ANALYZE;
  `)
}

export type TemplateGroup = 'lookup' | 'aggregate' | 'top-n' | 'dashboard' | 'write'

export interface WorkloadTemplate {
  readonly name: string
  readonly group: TemplateGroup
  /** Statements per run of the workload. */
  readonly executions: number
  /** One statement of the template, literals drawn from `r`. */
  sql(r: () => number): string
}

const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))
const day = (r: () => number) =>
  `'2025-${String(int(r, 6, 11)).padStart(2, '0')}-${String(int(r, 1, 28)).padStart(2, '0')}'`

/** Fifteen templates of an e-commerce analytics workload: point lookups, big aggregates, top-N and dashboard reads. */
export const ECOMMERCE_TEMPLATES: readonly WorkloadTemplate[] = [
  {
    name: 'order by id',
    group: 'lookup',
    executions: 48,
    sql: (r) => `SELECT order_id, status, total_amount FROM silver.orders WHERE order_id = ${int(r, 1, 8000)}`,
  },
  {
    name: 'customer by id',
    group: 'lookup',
    executions: 40,
    sql: (r) =>
      `SELECT email, country, segment FROM silver.customers WHERE customer_id = ${int(r, 1, 2000)} AND is_current`,
  },
  {
    name: 'product by id',
    group: 'lookup',
    executions: 44,
    sql: (r) => `SELECT name, category, price FROM silver.products WHERE product_id = ${int(r, 1, 300)} AND is_current`,
  },
  {
    name: 'customer 360 by id',
    group: 'lookup',
    executions: 36,
    sql: (r) =>
      `SELECT rfm_segment, lifetime_revenue, orders_count FROM gold.customer_360 WHERE customer_id = ${int(r, 1, 2000)}`,
  },
  {
    name: 'payment by id',
    group: 'lookup',
    executions: 30,
    sql: (r) => `SELECT method, amount, status FROM silver.payments WHERE payment_id = ${int(r, 1, 8000)}`,
  },
  {
    name: 'revenue by country',
    group: 'aggregate',
    executions: 14,
    sql: (r) => `SELECT o.country, sum(oi.quantity * oi.unit_price) AS revenue, count(DISTINCT o.order_id) AS orders
      FROM silver.orders o JOIN silver.order_items oi ON oi.order_id = o.order_id
      WHERE o.order_ts >= ${day(r)} GROUP BY o.country ORDER BY revenue DESC`,
  },
  {
    name: 'units by category',
    group: 'aggregate',
    executions: 12,
    sql: (r) => `SELECT p.category, sum(oi.quantity) AS units, avg(oi.unit_price) AS avg_price
      FROM silver.order_items oi JOIN silver.products p ON p.product_id = oi.product_id AND p.is_current
      WHERE oi.quantity >= ${int(r, 1, 2)} GROUP BY p.category`,
  },
  {
    name: 'weekly orders by channel',
    group: 'aggregate',
    executions: 12,
    sql: (r) => `SELECT date_trunc('week', order_ts) AS week, channel, count(*) AS orders, sum(total_amount) AS amount
      FROM silver.orders WHERE status <> '${pick(r, ['cancelled', 'placed', 'returned'])}' GROUP BY 1, 2 ORDER BY 1`,
  },
  {
    name: 'clickstream by type and device',
    group: 'aggregate',
    executions: 10,
    sql: (r) => `SELECT event_type, device, count(*) AS events, count(DISTINCT session_id) AS sessions
      FROM silver.clickstream_events WHERE event_ts >= ${day(r)} GROUP BY event_type, device`,
  },
  {
    name: 'revenue by segment',
    group: 'aggregate',
    executions: 10,
    sql: (r) => `SELECT c.segment, count(DISTINCT o.customer_id) AS customers, sum(o.total_amount) AS revenue,
        avg(o.total_amount) AS avg_order
      FROM silver.orders o JOIN silver.customers c ON c.customer_id = o.customer_id AND c.is_current
      WHERE o.total_amount > ${int(r, 10, 100)} GROUP BY c.segment`,
  },
  {
    name: 'top products in category',
    group: 'top-n',
    executions: 24,
    sql: (r) => `SELECT product_id, revenue FROM gold.product_performance
      WHERE category = '${pick(r, ['books', 'toys', 'garden', 'kitchen', 'sports', 'music'])}' ORDER BY revenue DESC LIMIT 10`,
  },
  {
    name: 'top customers in country',
    group: 'top-n',
    executions: 20,
    sql: (r) => `SELECT customer_id, lifetime_revenue FROM gold.customer_360
      WHERE country = '${pick(r, ['US', 'DE', 'FR', 'GB', 'CA'])}' ORDER BY lifetime_revenue DESC LIMIT 20`,
  },
  {
    name: 'latest orders of a customer',
    group: 'top-n',
    executions: 28,
    sql: (r) => `SELECT order_id, order_ts, total_amount FROM silver.orders
      WHERE customer_id = ${int(r, 1, 2000)} ORDER BY order_ts DESC LIMIT 5`,
  },
  {
    name: 'daily sales dashboard',
    group: 'dashboard',
    executions: 18,
    sql: (r) => `SELECT sales_date, sum(revenue) AS revenue, sum(orders) AS orders FROM gold.daily_sales
      WHERE sales_date BETWEEN ${day(r)} AND '2025-11-30' GROUP BY sales_date ORDER BY sales_date`,
  },
  {
    name: 'funnel by device',
    group: 'dashboard',
    executions: 16,
    sql: (r) => `SELECT device, sum(sessions) AS sessions, sum(purchase_sessions) AS purchases FROM gold.daily_funnel
      WHERE session_date >= ${day(r)} GROUP BY device`,
  },
]

/** Writes, for a workload that changes: a new kind of template arrives. */
export const WRITE_TEMPLATES: readonly WorkloadTemplate[] = [
  {
    name: 'ship an order',
    group: 'write',
    executions: 20,
    sql: (r) => `UPDATE silver.orders SET status = 'shipped', updated_at = now() WHERE order_id = ${int(r, 1, 8000)}`,
  },
  {
    name: 'customer phone',
    group: 'write',
    executions: 16,
    sql: (r) =>
      `UPDATE silver.customers SET phone = '+1-555-${int(r, 1000, 9999)}' WHERE customer_id = ${int(r, 1, 2000)} AND is_current`,
  },
  {
    name: 'record a return',
    group: 'write',
    executions: 12,
    sql: (r) => {
      const id = int(r, 1, 1_000_000_000)
      return `INSERT INTO silver.returns (return_id, order_id, quantity, reason, returned_at, updated_at, row_hash, bronze_id, change_seq)
        VALUES (${id}, ${int(r, 1, 8000)}, 1, 'damaged', now(), now(), 'h${id}', ${id}, 1) ON CONFLICT DO NOTHING`
    },
  },
]

/** A statement that ran: the template it came from, and the event the proxy would have published for it. */
export interface ExecutedStatement {
  readonly template: WorkloadTemplate
  readonly event: QueryEvent
}

const qualified = (r: RelationRef) => (r.schema ? `${r.schema}.${r.name}` : `public.${r.name}`)

/**
 * Runs every template `executions` times against the database, for real, and
 * builds each statement's QueryEvent from the proxy's own analysis (fingerprint,
 * normalized text, relations, columns) with the measured duration and row count.
 * Arrival times are spread over [from, from + spanMs), each template at its own rate.
 */
export async function runWorkload(
  pool: pg.Pool,
  templates: readonly WorkloadTemplate[],
  options: { seed: number; from: number; spanMs: number },
): Promise<ExecutedStatement[]> {
  await loadSqlParser()
  const r = seededRandom(options.seed)
  const out: ExecutedStatement[] = []
  const client = await pool.connect()
  try {
    for (const template of templates) {
      const arrivals = Array.from({ length: template.executions }, () => options.from + r() * options.spanMs).sort(
        (a, b) => a - b,
      )
      for (const at of arrivals) {
        const text = template.sql(r)
        const [analysis] = analyzeSql(text)
        if (!analysis) throw new Error(`no statement in ${text}`)
        const started = performance.now()
        const result = await client.query(text)
        const durationMs = performance.now() - started
        out.push({
          template,
          event: {
            at: Math.round(at),
            database: 'cairn',
            user: 'analyst',
            applicationName: 'workload-test',
            sessionId: `s${template.group}`,
            fingerprint: analysis.fingerprint,
            normalizedText: analysis.normalizedText,
            text,
            kind: analysis.kind,
            relationsRead: analysis.relationsRead.map(qualified),
            relationsWritten: analysis.relationsWritten.map(qualified),
            deterministic: analysis.deterministic,
            nondeterministicReasons: [...analysis.nondeterministicReasons],
            columns: analysis.columns.map((c) => ({
              relation: c.relation ? qualified(c.relation) : null,
              column: c.column,
              role: c.role,
            })),
            durationMs,
            poolWaitMs: 0,
            rows: result.rowCount ?? result.rows.length,
            bytesOut: 0,
          },
        })
      }
    }
  } finally {
    client.release()
  }
  return out.sort((a, b) => a.event.at - b.event.at)
}

/**
 * The same statements as another run would deliver them: in a different order,
 * durations off by up to ±15 % and arrivals by up to ±2 s.
 */
export function reorderWithNoise(statements: readonly ExecutedStatement[], seed: number): ExecutedStatement[] {
  const r = seededRandom(seed)
  const shuffled = statements.map((s) => ({
    ...s,
    event: {
      ...s.event,
      durationMs: s.event.durationMs * (0.85 + 0.3 * r()),
      at: Math.round(s.event.at + (r() - 0.5) * 4000),
    },
  }))
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1))
    ;[shuffled[i], shuffled[j]] = [shuffled[j] as ExecutedStatement, shuffled[i] as ExecutedStatement]
  }
  return shuffled
}
