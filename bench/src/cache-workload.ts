import { CATEGORIES, CHANNELS, COUNTRIES, DAYS, FIRST_DAY, LAST_DAY } from './cache-dataset.js'
import { SeededRandom } from './seeded-random.js'

/** One dashboard request: plain SQL with its literals in the text, sent over the simple query protocol. */
export interface CacheRequest {
  template: TemplateName
  sql: string
}

export interface DateRange {
  from: string
  to: string
}

interface Params {
  range: DateRange
  category: string
  channel: string
  country: string
}

interface Template {
  name: TemplateName
  /** How often a dashboard asks for it, relative to the others. */
  weight: number
  sql(p: Params): string
}

export const TEMPLATE_NAMES = [
  'daily_revenue',
  'category_mix',
  'category_channel_daily',
  'top_countries',
  'top_orders',
  'country_daily_view',
  'weekly_category_trend',
  'large_orders_view',
] as const
export type TemplateName = (typeof TEMPLATE_NAMES)[number]

const between = ({ from, to }: DateRange) => `order_date BETWEEN '${from}' AND '${to}'`

/** The panels of a sales dashboard over the gold tables, each tens to hundreds of ms in PostgreSQL. */
const TEMPLATES: readonly Template[] = [
  {
    name: 'daily_revenue',
    weight: 20,
    sql: (p) =>
      `SELECT order_date, count(*) AS orders, sum(units) AS units, sum(revenue) AS revenue FROM gold_orders WHERE ${between(p.range)} GROUP BY order_date ORDER BY order_date`,
  },
  {
    name: 'category_mix',
    weight: 15,
    sql: (p) =>
      `SELECT category, count(*) AS orders, sum(revenue) AS revenue FROM gold_orders WHERE ${between(p.range)} GROUP BY category ORDER BY revenue DESC`,
  },
  {
    name: 'category_channel_daily',
    weight: 15,
    sql: (p) =>
      `SELECT order_date, channel, sum(revenue) AS revenue FROM gold_orders WHERE category = '${p.category}' AND ${between(p.range)} GROUP BY order_date, channel ORDER BY order_date, channel`,
  },
  {
    name: 'top_countries',
    weight: 12,
    sql: (p) =>
      `SELECT country, sum(revenue) AS revenue, count(*) AS orders FROM gold_orders WHERE ${between(p.range)} GROUP BY country ORDER BY revenue DESC LIMIT 10`,
  },
  {
    name: 'top_orders',
    weight: 10,
    sql: (p) =>
      `SELECT order_id, order_date, category, country, revenue FROM gold_orders WHERE channel = '${p.channel}' AND ${between(p.range)} ORDER BY revenue DESC, order_id LIMIT 20`,
  },
  {
    name: 'country_daily_view',
    weight: 10,
    sql: (p) =>
      `SELECT order_date, sum(orders) AS orders, sum(revenue) AS revenue FROM gold_daily_sales WHERE country = '${p.country}' AND ${between(p.range)} GROUP BY order_date ORDER BY order_date`,
  },
  {
    name: 'weekly_category_trend',
    weight: 10,
    sql: (p) =>
      `SELECT date_trunc('week', order_date)::date AS week, category, sum(revenue) AS revenue FROM gold_orders WHERE ${between(p.range)} GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    name: 'large_orders_view',
    weight: 8,
    sql: (p) =>
      `SELECT category, count(*) AS orders, sum(revenue) AS revenue, max(revenue) AS largest FROM gold_large_orders WHERE ${between(p.range)} GROUP BY category ORDER BY revenue DESC`,
  },
]

const DAY_MS = 86_400_000
const dayOf = (date: string) => Date.parse(`${date}T00:00:00Z`)
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** The `days` days up to and including `to`. */
function lastDays(days: number, to = LAST_DAY): DateRange {
  return { from: isoDay(dayOf(to) - (days - 1) * DAY_MS), to }
}

/** The ranges dashboards open with, most popular first. */
export const POPULAR_RANGES: readonly DateRange[] = [
  lastDays(7),
  lastDays(30),
  { from: '2025-10-01', to: LAST_DAY },
  lastDays(90),
  { from: '2025-11-01', to: '2025-11-30' },
  { from: '2025-01-01', to: LAST_DAY },
]
const TAIL_LENGTHS = [7, 14, 28, 30, 60, 90] as const

export interface WorkloadOptions {
  requests: number
  seed: number
  /** Share of requests for an arbitrary date range (someone exploring), not a popular one. */
  tailShare: number
}

/**
 * A dashboard's requests in order: templates by weight; popular date ranges,
 * categories, channels and countries by Zipf (a few take most requests), and a
 * long tail of arbitrary ranges that rarely repeat. The same options give the
 * same requests, so every target runs the same sequence.
 */
export function cacheWorkload({ requests, seed, tailShare }: WorkloadOptions): CacheRequest[] {
  const random = new SeededRandom(seed)
  const weights = TEMPLATES.map((t) => t.weight)
  const firstDay = dayOf(FIRST_DAY)
  const out: CacheRequest[] = []
  for (let i = 0; i < requests; i++) {
    const template = random.weighted(TEMPLATES, weights)
    let range: DateRange
    if (random.next() < tailShare) {
      const length = random.weighted(
        TAIL_LENGTHS,
        TAIL_LENGTHS.map(() => 1),
      )
      const start = firstDay + random.int(DAYS - length + 1) * DAY_MS
      range = { from: isoDay(start), to: isoDay(start + (length - 1) * DAY_MS) }
    } else {
      range = random.zipf(POPULAR_RANGES, 1.2)
    }
    const params: Params = {
      range,
      category: random.zipf(CATEGORIES, 1.2),
      channel: random.zipf(CHANNELS, 1.2),
      country: random.zipf(COUNTRIES, 1.2),
    }
    out.push({ template: template.name, sql: template.sql(params) })
  }
  return out
}

/** For each request, whether the same SQL came earlier in the sequence (a cache that keeps everything hits it). */
export function repeats(requests: readonly CacheRequest[]): boolean[] {
  const seen = new Set<string>()
  return requests.map(({ sql }) => {
    const repeat = seen.has(sql)
    seen.add(sql)
    return repeat
  })
}

/** Each template once over the widest popular range, to warm PostgreSQL's buffers before anything is measured. */
export function warmUpRequests(): CacheRequest[] {
  const params: Params = {
    range: { from: '2025-01-01', to: LAST_DAY },
    category: CATEGORIES[0],
    channel: CHANNELS[0],
    country: COUNTRIES[0],
  }
  return TEMPLATES.map((t) => ({ template: t.name, sql: t.sql(params) }))
}
