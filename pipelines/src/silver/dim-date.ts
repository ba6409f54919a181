import type pg from 'pg'

/**
 * Extends `silver.dim_date` to whole years covering every order and clickstream
 * event in silver. Returns the number of days added.
 */
export async function extendDimDate(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ added: number | null }>(`
    WITH bounds AS (
      SELECT min(d) AS lo, max(d) AS hi FROM (
        SELECT min(order_ts) AS d FROM silver.orders UNION ALL SELECT max(order_ts) FROM silver.orders
        UNION ALL SELECT min(event_ts) FROM silver.clickstream_events UNION ALL SELECT max(event_ts) FROM silver.clickstream_events
      ) x
    )
    SELECT cairn_meta.extend_dim_date(date_trunc('year', lo AT TIME ZONE 'UTC')::date,
                                      (date_trunc('year', hi AT TIME ZONE 'UTC') + interval '1 year - 1 day')::date) AS added
    FROM bounds WHERE lo IS NOT NULL`)
  return rows[0]?.added ?? 0
}
