import type { QueryEvent } from '@cairn/core'
import pg from 'pg'
import { readOnlyDb } from '../../src/host/read-only-db.js'
import { OnnxLatencyModel } from '../../src/latency/onnx-latency-model.js'
import { explainFeatures, type PlanSample, planFeatureNames } from '../../src/latency/plan-features.js'
import { qError, summarizeQErrors } from '../../src/latency/q-error.js'
import { RelationSizes } from '../../src/latency/relation-sizes.js'
import { trainLatencyModel } from '../../src/latency/train-latency-model.js'

type Columns = QueryEvent['columns']
type Random = () => number

/** One e-commerce query shape: its SQL with `$n` parameters, the columns the proxy would report, and parameters to try. */
export interface LatencyQueryTemplate {
  readonly name: string
  readonly text: string
  readonly columns: Columns
  params(random: Random): string[]
}

export interface LatencyWarehouseSize {
  readonly customers?: number
  readonly products?: number
  readonly orders?: number
}

const DAY_MS = 86_400_000
/** The orders span two years ending here. */
const END = Date.parse('2024-07-01T00:00:00Z')
const SPAN_DAYS = 730
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'CA', 'AU', 'NL', 'ES']
const CATEGORIES = ['shoes', 'shirts', 'bags', 'watches', 'toys', 'books', 'garden', 'kitchen', 'audio', 'beauty']

const col = (relation: string, column: string, role: Columns[number]['role']): Columns[number] => ({
  relation,
  column,
  role,
})
const O = 'silver.orders'
const OI = 'silver.order_items'
const C = 'silver.customers'
const P = 'silver.products'

const int = (random: Random, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
/** A day range inside the two years, its width spread log-uniformly from a day to the whole span. */
function dayRange(random: Random): [string, string] {
  const days = Math.max(1, Math.round(Math.exp(random() * Math.log(SPAN_DAYS))))
  const start = END - SPAN_DAYS * DAY_MS + Math.floor(random() * (SPAN_DAYS - days + 1)) * DAY_MS
  return [new Date(start).toISOString(), new Date(start + days * DAY_MS).toISOString()]
}

/** Fills silver.customers, products, orders and order_items with generated rows (about 2.5 lines per order), then ANALYZEs. */
export async function buildLatencyWarehouse(pool: pg.Pool, size: LatencyWarehouseSize = {}): Promise<void> {
  const customers = size.customers ?? 5_000
  const products = size.products ?? 800
  const orders = size.orders ?? 20_000
  await pool.query(
    `INSERT INTO silver.customers (customer_id, email, first_name, last_name, country, city, segment, signup_ts,
       valid_from, is_current)
     SELECT g, 'customer' || g || '@example.com', 'First' || g, 'Last' || g, ($2::text[])[1 + g % 8], 'City' || (g % 97),
            (ARRAY['consumer', 'business', 'vip'])[1 + g % 3], $3::timestamptz - (g % 900) * interval '1 day',
            $3::timestamptz - (g % 900) * interval '1 day', true
       FROM generate_series(1, $1::int) g`,
    [customers, COUNTRIES, new Date(END).toISOString()],
  )
  await pool.query(
    `INSERT INTO silver.products (product_id, sku, name, category, brand, price, currency, valid_from, is_current)
     SELECT g, 'SKU-' || g, 'Product ' || g, ($2::text[])[1 + g % 10], 'Brand' || (g % 40),
            round((5 + (g * 7919 % 49500) / 100.0)::numeric, 2), 'USD', '2020-01-01', true
       FROM generate_series(1, $1::int) g`,
    [products, CATEGORIES],
  )
  await pool.query(
    `INSERT INTO silver.orders (order_id, customer_id, order_ts, status, channel, country, currency, total_amount,
       updated_at, row_hash, bronze_id, change_seq)
     SELECT g, 1 + (g * 7907) % $2::int, $4::timestamptz - ((g::bigint * 104729) % ($5::int * 1440)) * interval '1 minute',
            (ARRAY['placed', 'paid', 'shipped', 'delivered', 'returned', 'cancelled'])[1 + g % 6],
            (ARRAY['web', 'app', 'store', 'partner'])[1 + g % 4], ($3::text[])[1 + g % 8], 'USD',
            round((10 + (g * 6151 % 90000) / 100.0)::numeric, 2), $4::timestamptz, md5(g::text), g, 1
       FROM generate_series(1, $1::int) g`,
    [orders, customers, COUNTRIES, new Date(END).toISOString(), SPAN_DAYS],
  )
  await pool.query(
    `INSERT INTO silver.order_items (order_id, line_no, product_id, quantity, unit_price, discount, updated_at,
       row_hash, bronze_id, change_seq)
     SELECT o, l, 1 + (o * 31 + l * 7877) % $2::int, 1 + (o + l) % 3, round((5 + ((o * l) % 20000) / 100.0)::numeric, 2),
            0, '2024-07-01', md5(o || '-' || l), o * 10 + l, 1
       FROM generate_series(1, $1::int) o, generate_series(1, 1 + o % 4) l`,
    [orders, products],
  )
  await pool.query('ANALYZE silver.customers, silver.products, silver.orders, silver.order_items')
}

/** Fifteen-odd e-commerce query shapes: selective lookups, range scans, joins, aggregates, top-N. */
export const latencyQueryTemplates: readonly LatencyQueryTemplate[] = [
  {
    name: 'order by id',
    text: 'SELECT * FROM silver.orders WHERE order_id = $1',
    columns: [col(O, 'order_id', 'predicate')],
    params: (r) => [String(int(r, 1, 20_000))],
  },
  {
    name: 'orders of a customer',
    text: 'SELECT order_id, order_ts, total_amount FROM silver.orders WHERE customer_id = $1 ORDER BY order_ts DESC',
    columns: [col(O, 'customer_id', 'predicate'), col(O, 'order_ts', 'orderBy')],
    params: (r) => [String(int(r, 1, 5_000))],
  },
  {
    name: 'orders in a period',
    text: 'SELECT count(*), sum(total_amount) FROM silver.orders WHERE order_ts >= $1 AND order_ts < $2',
    columns: [col(O, 'order_ts', 'predicate')],
    params: (r) => dayRange(r),
  },
  {
    name: 'daily revenue',
    text: `SELECT date_trunc('day', order_ts) AS day, sum(total_amount) AS revenue FROM silver.orders
            WHERE order_ts >= $1 AND order_ts < $2 GROUP BY 1 ORDER BY 1`,
    columns: [col(O, 'order_ts', 'predicate'), col(O, 'order_ts', 'groupBy')],
    params: (r) => dayRange(r),
  },
  {
    name: 'top products in a period',
    text: `SELECT oi.product_id, sum(oi.quantity * oi.unit_price) AS revenue
             FROM silver.orders o JOIN silver.order_items oi ON oi.order_id = o.order_id
            WHERE o.order_ts >= $1 AND o.order_ts < $2 GROUP BY oi.product_id ORDER BY revenue DESC LIMIT $3`,
    columns: [
      col(O, 'order_ts', 'predicate'),
      col(O, 'order_id', 'join'),
      col(OI, 'order_id', 'join'),
      col(OI, 'product_id', 'groupBy'),
    ],
    params: (r) => [...dayRange(r), String(int(r, 5, 50))],
  },
  {
    name: 'lines of an order',
    text: `SELECT oi.line_no, p.name, oi.quantity, oi.unit_price
             FROM silver.order_items oi JOIN silver.products p ON p.product_id = oi.product_id AND p.is_current
            WHERE oi.order_id = $1`,
    columns: [
      col(OI, 'order_id', 'predicate'),
      col(OI, 'product_id', 'join'),
      col(P, 'product_id', 'join'),
      col(P, 'is_current', 'predicate'),
    ],
    params: (r) => [String(int(r, 1, 20_000))],
  },
  {
    name: 'revenue by category',
    text: `SELECT p.category, sum(oi.quantity * oi.unit_price) AS revenue
             FROM silver.orders o JOIN silver.order_items oi ON oi.order_id = o.order_id
             JOIN silver.products p ON p.product_id = oi.product_id AND p.is_current
            WHERE o.order_ts >= $1 AND o.order_ts < $2 GROUP BY p.category ORDER BY revenue DESC`,
    columns: [
      col(O, 'order_ts', 'predicate'),
      col(O, 'order_id', 'join'),
      col(OI, 'order_id', 'join'),
      col(OI, 'product_id', 'join'),
      col(P, 'product_id', 'join'),
      col(P, 'is_current', 'predicate'),
      col(P, 'category', 'groupBy'),
    ],
    params: (r) => dayRange(r),
  },
  {
    name: 'customer by email',
    text: 'SELECT customer_id, first_name, last_name, country FROM silver.customers WHERE email = $1 AND is_current',
    columns: [col(C, 'email', 'predicate'), col(C, 'is_current', 'predicate')],
    params: (r) => [`customer${int(r, 1, 5_000)}@example.com`],
  },
  {
    name: 'signups by country and segment',
    text: `SELECT country, segment, count(*) AS n FROM silver.customers WHERE is_current AND signup_ts >= $1
            GROUP BY 1, 2 ORDER BY 3 DESC`,
    columns: [
      col(C, 'is_current', 'predicate'),
      col(C, 'signup_ts', 'predicate'),
      col(C, 'country', 'groupBy'),
      col(C, 'segment', 'groupBy'),
    ],
    params: (r) => [dayRange(r)[0]],
  },
  {
    name: 'top customers since',
    text: `SELECT customer_id, sum(total_amount) AS spend FROM silver.orders WHERE order_ts >= $1
            GROUP BY customer_id ORDER BY spend DESC LIMIT $2`,
    columns: [col(O, 'order_ts', 'predicate'), col(O, 'customer_id', 'groupBy')],
    params: (r) => [dayRange(r)[0], String(int(r, 10, 100))],
  },
  {
    name: 'status mix of a country',
    text: 'SELECT status, channel, count(*) FROM silver.orders WHERE country = $1 GROUP BY 1, 2',
    columns: [col(O, 'country', 'predicate'), col(O, 'status', 'groupBy'), col(O, 'channel', 'groupBy')],
    params: (r) => [COUNTRIES[int(r, 0, COUNTRIES.length - 1)] as string],
  },
  {
    name: 'sales of a product',
    text: 'SELECT sum(quantity) AS units, sum(quantity * unit_price) AS revenue FROM silver.order_items WHERE product_id = $1',
    columns: [col(OI, 'product_id', 'predicate')],
    params: (r) => [String(int(r, 1, 800))],
  },
  {
    name: 'latest orders',
    text: 'SELECT order_id, customer_id, total_amount FROM silver.orders ORDER BY order_ts DESC LIMIT $1',
    columns: [col(O, 'order_ts', 'orderBy')],
    params: (r) => [String(Math.round(Math.exp(r() * Math.log(3_000))))],
  },
  {
    name: 'customer 360',
    text: `SELECT c.customer_id, c.segment, count(o.order_id) AS orders, sum(o.total_amount) AS spend
             FROM silver.customers c JOIN silver.orders o ON o.customer_id = c.customer_id
            WHERE c.is_current AND c.customer_id BETWEEN $1 AND $2 GROUP BY c.customer_id, c.segment`,
    columns: [
      col(C, 'is_current', 'predicate'),
      col(C, 'customer_id', 'predicate'),
      col(C, 'customer_id', 'join'),
      col(O, 'customer_id', 'join'),
      col(C, 'customer_id', 'groupBy'),
      col(C, 'segment', 'groupBy'),
    ],
    params: (r) => {
      const from = int(r, 1, 4_000)
      return [String(from), String(from + Math.round(Math.exp(r() * Math.log(1_000))))]
    },
  },
  {
    name: 'products of a category in a price band',
    text: `SELECT product_id, name, price FROM silver.products
            WHERE is_current AND category = $1 AND price BETWEEN $2 AND $3 ORDER BY price LIMIT 50`,
    columns: [
      col(P, 'is_current', 'predicate'),
      col(P, 'category', 'predicate'),
      col(P, 'price', 'predicate'),
      col(P, 'price', 'orderBy'),
    ],
    params: (r) => {
      const lo = int(r, 5, 400)
      return [CATEGORIES[int(r, 0, CATEGORIES.length - 1)] as string, String(lo), String(lo + int(r, 10, 200))]
    },
  },
  {
    name: 'basket sizes',
    text: `SELECT avg(n) FROM (SELECT order_id, count(*) AS n FROM silver.order_items WHERE order_id <= $1
            GROUP BY order_id) b`,
    columns: [col(OI, 'order_id', 'predicate'), col(OI, 'order_id', 'groupBy')],
    params: (r) => [String(Math.round(Math.exp(r() * Math.log(20_000))))],
  },
]

export interface CollectedLatencySample extends PlanSample {
  readonly template: string
  readonly text: string
  readonly params: readonly string[]
  readonly actualMs: number
}

export interface CollectLatencySamplesOptions {
  /** Passes over the templates, each with fresh parameters. Default 30. */
  readonly rounds?: number
  /** Executions per sample; the median is its latency. Default 1. */
  readonly repeats?: number
  readonly seed?: number
}

/**
 * Runs every template `rounds` times with varied parameters, for real through
 * pg: each time EXPLAIN for the features, then the statement itself, timed.
 * The first run of each template is a warm-up and not kept.
 */
export async function collectLatencySamples(
  databaseUrl: string,
  options: CollectLatencySamplesOptions = {},
): Promise<CollectedLatencySample[]> {
  const rounds = options.rounds ?? 30
  const repeats = Math.max(1, options.repeats ?? 1)
  let state = options.seed ?? 42
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 4294967296
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 })
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const db = readOnlyDb(pool)
    const sizes = new RelationSizes()
    for (const t of latencyQueryTemplates) await client.query(t.text, t.params(random))
    const samples: CollectedLatencySample[] = []
    for (let round = 0; round < rounds; round++) {
      for (const t of latencyQueryTemplates) {
        const params = t.params(random)
        const plan = await explainFeatures(db, sizes, { text: t.text, params, columns: t.columns })
        const times: number[] = []
        for (let k = 0; k < repeats; k++) {
          const started = performance.now()
          await client.query(t.text, params)
          times.push(performance.now() - started)
        }
        times.sort((a, b) => a - b)
        samples.push({ ...plan, template: t.name, text: t.text, params, actualMs: times[times.length >> 1] as number })
      }
    }
    return samples
  } finally {
    await client.end()
    await pool.end()
  }
}

export interface LatencyEvaluation {
  readonly samples: number
  readonly trainRows: number
  readonly heldOutRows: number
  /** The exported model, run by ONNX Runtime, on the held-out queries. */
  readonly heldOut: { readonly medianQError: number; readonly p90QError: number; readonly meanQError: number }
  /** The least-squares line ln(ms) ~ ln(1 + total cost) on the same split. */
  readonly baseline: { readonly medianQError: number; readonly p90QError: number }
  /** Per template: held-out queries and their median q-error. */
  readonly perTemplate: Record<string, { readonly rows: number; readonly medianQError: number }>
  readonly topFeatures: readonly { readonly name: string; readonly share: number }[]
}

/** Trains on the samples (80/20 split) and scores the ONNX model on the held-out queries, next to the log-cost line. */
export async function evaluateLatencyModel(samples: readonly CollectedLatencySample[]): Promise<LatencyEvaluation> {
  const result = trainLatencyModel({
    features: samples.map((s) => s.features),
    actualMs: samples.map((s) => s.actualMs),
    featureNames: planFeatureNames,
  })
  const held = result.holdoutIndices.map((i) => samples[i] as CollectedLatencySample)
  const model = await OnnxLatencyModel.load(result.onnx, { featureCount: planFeatureNames.length })
  let predicted: number[]
  try {
    predicted = await model.predictMs(held.map((s) => s.features))
  } finally {
    await model.release()
  }
  const errors = held.map((s, k) => qError(predicted[k] as number, s.actualMs))
  const overall = summarizeQErrors(errors)
  const byTemplate = new Map<string, number[]>()
  held.forEach((s, k) => {
    byTemplate.set(s.template, [...(byTemplate.get(s.template) ?? []), errors[k] as number])
  })
  const r = (v: number) => Math.round(v * 100) / 100
  return {
    samples: samples.length,
    trainRows: result.metrics.train.rows,
    heldOutRows: held.length,
    heldOut: { medianQError: r(overall.median), p90QError: r(overall.p90), meanQError: r(overall.mean) },
    baseline: {
      medianQError: r(result.metrics.baseline?.heldOut.medianQError ?? Number.NaN),
      p90QError: r(result.metrics.baseline?.heldOut.p90QError ?? Number.NaN),
    },
    perTemplate: Object.fromEntries(
      [...byTemplate].map(([t, q]) => [t, { rows: q.length, medianQError: r(summarizeQErrors(q).median) }]),
    ),
    topFeatures: result.metrics.topFeatures.slice(0, 5),
  }
}
