import type pg from 'pg'
import { silverLockKey } from '../silver/silver-step.js'
import { silverTables } from '../silver/tables/index.js'

export interface GoldRunOptions {
  /** Recompute everything from silver instead of what changed since the last run. */
  readonly full?: boolean
}

/** What one gold run recomputed. `changed` is 0 when silver had nothing new. */
export interface GoldRunResult {
  readonly full: boolean
  readonly fromChangeSeq: number
  readonly toChangeSeq: number
  readonly orders: number
  readonly dates: number
  readonly customers: number
  readonly products: number
  readonly sessions: number
  readonly sessionDates: number
  readonly changed: number
  readonly ms: number
}

export const goldLockKey = 'cairn.gold'

/**
 * The gold step, incremental: in one transaction it reads what silver changed since the last
 * run (silver's `change_seq` above the gold watermark), rebuilds the order-line and session facts
 * of the touched orders and sessions, and recomputes exactly the days, customers and products
 * those facts (old and new) belong to. `full` truncates gold and recomputes everything through
 * the same path, so an incremental run and a full rebuild give the same marts. Afterwards,
 * `gold.customer_360` (RFM ranks over all customers) is refreshed CONCURRENTLY.
 *
 * While it reads, it holds every silver table's lock shared, so no silver step is half-committed
 * and every change_seq up to the current one is visible.
 */
export async function runGold(pool: pg.Pool, options: GoldRunOptions = {}): Promise<GoldRunResult> {
  const started = performance.now()
  const full = options.full ?? false
  const client = await pool.connect()
  let result: Omit<GoldRunResult, 'ms'>
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [goldLockKey])
    for (const key of silverTables.map((t) => silverLockKey(t.name)).sort())
      await client.query('SELECT pg_advisory_xact_lock_shared(hashtext($1))', [key])
    const wm = await client.query<{ last_change_seq: string }>(
      'SELECT last_change_seq FROM cairn_meta.gold_watermark FOR UPDATE',
    )
    const hiRes = await client.query<{ hi: string }>(
      'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS hi FROM cairn_meta.silver_change_seq',
    )
    const hi = Number(hiRes.rows[0]?.hi ?? 0)
    const from = full ? -1 : Number(wm.rows[0]?.last_change_seq ?? 0)
    if (full) {
      await client.query(
        'TRUNCATE gold.order_line_facts, gold.session_facts, gold.daily_sales, gold.customer_360_base, gold.product_performance, gold.daily_funnel',
      )
    }
    const q = (sql: string) => client.query(sql, [from, hi])
    const changedIn = (table: string) => `SELECT %s FROM silver.${table} WHERE change_seq > $1 AND change_seq <= $2`
    const changed = (table: string, column: string) => changedIn(table).replace('%s', column)

    // Orders whose facts change: the order, its items or its returns changed.
    const orders = await q(`CREATE TEMP TABLE t_orders ON COMMIT DROP AS
      ${changed('orders', 'order_id')} UNION ${changed('order_items', 'order_id')} UNION ${changed('returns', 'order_id')}`)
    await client.query('ALTER TABLE t_orders ADD PRIMARY KEY (order_id)')
    await client.query('CREATE TEMP TABLE t_dates (d date) ON COMMIT DROP')
    await client.query('CREATE TEMP TABLE t_customers (id bigint) ON COMMIT DROP')
    await client.query('CREATE TEMP TABLE t_products (id bigint) ON COMMIT DROP')
    await client.query('CREATE TEMP TABLE t_session_dates (d date) ON COMMIT DROP')
    const touchFromFacts = `
      INSERT INTO t_dates SELECT DISTINCT f.sales_date FROM gold.order_line_facts f JOIN t_orders USING (order_id);
      INSERT INTO t_customers SELECT DISTINCT f.customer_id FROM gold.order_line_facts f JOIN t_orders USING (order_id);
      INSERT INTO t_products SELECT DISTINCT f.product_id FROM gold.order_line_facts f JOIN t_orders USING (order_id);`
    // What the old facts covered, then the new facts, then what they cover.
    await client.query(touchFromFacts)
    await client.query('DELETE FROM gold.order_line_facts f USING t_orders t WHERE f.order_id = t.order_id')
    await client.query(`
      INSERT INTO gold.order_line_facts
      SELECT i.order_id, i.line_no, i.product_id, o.customer_id, (o.order_ts AT TIME ZONE 'UTC')::date, o.order_ts,
             coalesce(asof.category, cur.category, 'unknown'), coalesce(o.channel, 'unknown'), coalesce(o.country, 'unknown'),
             gold.is_counted_status(o.status), i.quantity, coalesce(r.quantity, 0)::integer,
             round((i.quantity * i.unit_price - i.discount) * coalesce(fx.usd_per_unit, 1), 2),
             round(coalesce(r.refund, 0) * coalesce(fx.usd_per_unit, 1), 2)
      FROM t_orders t
      JOIN silver.orders o USING (order_id)
      JOIN silver.order_items i USING (order_id)
      LEFT JOIN LATERAL (
        SELECT p.category FROM silver.products p
        WHERE p.product_id = i.product_id AND p.valid_from <= o.order_ts AND (p.valid_to IS NULL OR p.valid_to > o.order_ts)
      ) asof ON true
      LEFT JOIN silver.products cur ON cur.product_id = i.product_id AND cur.is_current
      LEFT JOIN (
        SELECT rt.order_id, rt.line_no, sum(rt.quantity) AS quantity, sum(rt.refund_amount) AS refund
        FROM silver.returns rt JOIN t_orders USING (order_id) GROUP BY 1, 2
      ) r ON r.order_id = i.order_id AND r.line_no = i.line_no
      LEFT JOIN gold.currency_rates fx ON fx.currency = o.currency`)
    await client.query(touchFromFacts)

    // A product whose history changed may put older lines in another category.
    await q(`CREATE TEMP TABLE t_changed_products ON COMMIT DROP AS ${changed('products', 'DISTINCT product_id')}`)
    await client.query(`
      WITH fixed AS (
        UPDATE gold.order_line_facts f SET category = x.category
        FROM (
          SELECT f2.order_id, f2.line_no, coalesce(asof.category, cur.category, 'unknown') AS category
          FROM gold.order_line_facts f2
          JOIN t_changed_products c USING (product_id)
          LEFT JOIN LATERAL (
            SELECT p.category FROM silver.products p
            WHERE p.product_id = f2.product_id AND p.valid_from <= f2.order_ts AND (p.valid_to IS NULL OR p.valid_to > f2.order_ts)
          ) asof ON true
          LEFT JOIN silver.products cur ON cur.product_id = f2.product_id AND cur.is_current
        ) x
        WHERE f.order_id = x.order_id AND f.line_no = x.line_no AND f.category IS DISTINCT FROM x.category
        RETURNING f.sales_date
      )
      INSERT INTO t_dates SELECT DISTINCT sales_date FROM fixed`)
    await client.query('INSERT INTO t_products SELECT product_id FROM t_changed_products')
    await q(`INSERT INTO t_customers ${changed('customers', 'DISTINCT customer_id')}`)

    // Sessions whose events changed: rebuild their facts; their old and new days are touched.
    const sessions = await q(
      `CREATE TEMP TABLE t_sessions ON COMMIT DROP AS ${changed('clickstream_events', 'DISTINCT session_id')}`,
    )
    await q(
      `INSERT INTO t_products SELECT DISTINCT product_id FROM (${changed('clickstream_events', 'product_id')}) e WHERE product_id IS NOT NULL`,
    )
    await client.query(
      'INSERT INTO t_session_dates SELECT DISTINCT s.session_date FROM gold.session_facts s JOIN t_sessions USING (session_id)',
    )
    await client.query('DELETE FROM gold.session_facts s USING t_sessions t WHERE s.session_id = t.session_id')
    await client.query(`
      INSERT INTO gold.session_facts
      SELECT e.session_id, (min(e.event_ts) AT TIME ZONE 'UTC')::date,
             coalesce((array_agg(e.device ORDER BY e.event_ts, e.event_id))[1], 'unknown'), count(*),
             bool_or(e.event_type = 'product_view'), bool_or(e.event_type = 'add_to_cart'),
             bool_or(e.event_type = 'checkout'), bool_or(e.event_type = 'purchase')
      FROM silver.clickstream_events e JOIN t_sessions USING (session_id)
      GROUP BY e.session_id`)
    await client.query(
      'INSERT INTO t_session_dates SELECT DISTINCT s.session_date FROM gold.session_facts s JOIN t_sessions USING (session_id)',
    )

    // The marts, for exactly what was touched.
    await client.query('CREATE TEMP TABLE u_dates ON COMMIT DROP AS SELECT DISTINCT d FROM t_dates')
    await client.query('CREATE TEMP TABLE u_customers ON COMMIT DROP AS SELECT DISTINCT id FROM t_customers')
    await client.query('CREATE TEMP TABLE u_products ON COMMIT DROP AS SELECT DISTINCT id FROM t_products')
    await client.query('CREATE TEMP TABLE u_session_dates ON COMMIT DROP AS SELECT DISTINCT d FROM t_session_dates')
    await client.query('ANALYZE u_dates, u_customers, u_products, u_session_dates')
    await client.query('DELETE FROM gold.daily_sales s USING u_dates u WHERE s.sales_date = u.d')
    await client.query(`
      INSERT INTO gold.daily_sales
      SELECT f.sales_date, f.category, f.channel, f.country, count(DISTINCT f.order_id), sum(f.units), sum(f.returned_units),
             sum(f.gross_revenue), sum(f.refunds), sum(f.gross_revenue) - sum(f.refunds),
             round((sum(f.gross_revenue) - sum(f.refunds)) / count(DISTINCT f.order_id), 2), count(DISTINCT f.customer_id)
      FROM gold.order_line_facts f JOIN u_dates u ON u.d = f.sales_date
      WHERE f.counted
      GROUP BY 1, 2, 3, 4`)
    await client.query('DELETE FROM gold.customer_360_base c USING u_customers u WHERE c.customer_id = u.id')
    await client.query(`
      INSERT INTO gold.customer_360_base
      SELECT f.customer_id, c.country, c.segment, count(DISTINCT f.order_id), sum(f.gross_revenue - f.refunds),
             min(f.order_ts), max(f.order_ts), round(sum(f.gross_revenue - f.refunds) / count(DISTINCT f.order_id), 2)
      FROM gold.order_line_facts f
      JOIN u_customers u ON u.id = f.customer_id
      LEFT JOIN silver.customers c ON c.customer_id = f.customer_id AND c.is_current
      WHERE f.counted
      GROUP BY f.customer_id, c.country, c.segment`)
    await client.query('DELETE FROM gold.product_performance p USING u_products u WHERE p.product_id = u.id')
    await client.query(`
      INSERT INTO gold.product_performance
      SELECT u.id, cur.category, coalesce(ev.views, 0), coalesce(ev.add_to_carts, 0), coalesce(s.purchases, 0),
             coalesce(s.units, 0), coalesce(s.returned, 0), coalesce(s.revenue, 0),
             CASE WHEN ev.views > 0 THEN round(coalesce(s.purchases, 0)::numeric / ev.views, 4) END,
             CASE WHEN s.units > 0 THEN round(s.returned::numeric / s.units, 4) END
      FROM u_products u
      JOIN silver.products cur ON cur.product_id = u.id AND cur.is_current
      LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE e.event_type = 'product_view') AS views,
               count(*) FILTER (WHERE e.event_type = 'add_to_cart') AS add_to_carts
        FROM silver.clickstream_events e WHERE e.product_id = u.id
      ) ev ON true
      LEFT JOIN LATERAL (
        SELECT count(DISTINCT f.order_id) AS purchases, sum(f.units) AS units, sum(f.returned_units) AS returned,
               sum(f.gross_revenue - f.refunds) AS revenue
        FROM gold.order_line_facts f WHERE f.product_id = u.id AND f.counted
      ) s ON true`)
    await client.query('DELETE FROM gold.daily_funnel f USING u_session_dates u WHERE f.session_date = u.d')
    await client.query(`
      INSERT INTO gold.daily_funnel
      SELECT s.session_date, s.device, count(*), count(*) FILTER (WHERE s.viewed_product),
             count(*) FILTER (WHERE s.added_to_cart), count(*) FILTER (WHERE s.checked_out),
             count(*) FILTER (WHERE s.purchased), round(count(*) FILTER (WHERE s.purchased)::numeric / count(*), 4)
      FROM gold.session_facts s JOIN u_session_dates u ON u.d = s.session_date
      GROUP BY 1, 2`)
    const counts = await client.query<{ dates: string; customers: string; products: string; session_dates: string }>(
      `SELECT (SELECT count(*) FROM u_dates) AS dates, (SELECT count(*) FROM u_customers) AS customers,
              (SELECT count(*) FROM u_products) AS products, (SELECT count(*) FROM u_session_dates) AS session_dates`,
    )
    await client.query('UPDATE cairn_meta.gold_watermark SET last_change_seq = $1, updated_at = now()', [hi])
    await client.query('COMMIT')
    const c = counts.rows[0]
    const n = (v: string | undefined) => Number(v ?? 0)
    const touched = {
      orders: orders.rowCount ?? 0,
      dates: n(c?.dates),
      customers: n(c?.customers),
      products: n(c?.products),
      sessions: sessions.rowCount ?? 0,
      sessionDates: n(c?.session_dates),
    }
    result = {
      full,
      fromChangeSeq: Math.max(from, 0),
      toChangeSeq: hi,
      ...touched,
      changed: touched.dates + touched.customers + touched.products + touched.sessionDates,
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    client.release(err as Error)
    throw err
  }
  try {
    // Readers keep reading the old contents while it refreshes; it needs its unique index.
    if (result.customers > 0) await client.query('REFRESH MATERIALIZED VIEW CONCURRENTLY gold.customer_360')
  } finally {
    client.release()
  }
  return { ...result, ms: Math.round(performance.now() - started) }
}
