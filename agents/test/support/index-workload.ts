import type pg from 'pg'

/**
 * shop.orders, 200,000 rows: 20,000 customers (10 orders each), 4 statuses,
 * 20 regions, 5 channels, created_at in insertion order (correlation 1); a
 * unique `ref` (a unique constraint). shop.small: 50 rows, one page.
 */
export async function createShop(pool: pg.Pool): Promise<void> {
  await pool.query(`
    CREATE SCHEMA shop;
    CREATE TABLE shop.orders (
      id bigint PRIMARY KEY,
      ref text NOT NULL CONSTRAINT orders_ref_key UNIQUE,
      customer_id integer NOT NULL,
      status text NOT NULL,
      region text NOT NULL,
      channel text NOT NULL,
      coupon text,
      created_at timestamptz NOT NULL,
      total numeric(12, 2) NOT NULL
    );
    INSERT INTO shop.orders
    SELECT g, 'R' || g, (g * 7919) % 20000, (ARRAY['paid', 'new', 'shipped', 'cancelled'])[1 + g % 4],
           'region-' || ((g / 7) % 20), (ARRAY['web', 'app', 'store', 'phone', 'partner'])[1 + (g / 3) % 5],
           CASE WHEN g % 10 = 0 THEN 'C' || (g % 50) END,
           timestamptz '2026-01-01' + g * interval '1 minute', (g % 997) + 0.99
      FROM generate_series(1, 200000) g;
    CREATE TABLE shop.small (id integer PRIMARY KEY, label text NOT NULL);
    INSERT INTO shop.small SELECT g, 'label-' || g FROM generate_series(1, 50) g;
  `)
  await pool.query('VACUUM ANALYZE shop.orders')
  await pool.query('VACUUM ANALYZE shop.small')
}

export interface TemplateSpec {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly kind?: 'select' | 'update' | 'delete' | 'insert'
  readonly relationsRead: readonly string[]
  readonly relationsWritten?: readonly string[]
  readonly columns: readonly { relation: string; column: string; role: 'predicate' | 'join' | 'groupBy' | 'orderBy' }[]
  /** The i-th statement: its text and parameters. */
  statement(i: number): { text: string; params: (string | null)[] | null }
  readonly calls: number
  /** Rows each call returns or writes. Default 1. */
  readonly rows?: number
  /** Each call's duration; default measured by running the first statements for real (never for writes). */
  readonly meanMs?: number
}

/**
 * Writes `calls` events per template into cairn_meta.query_events between
 * `from` and `until`, each with a real statement and its parameters, and a
 * duration measured by running the template's first statements for real.
 */
export async function insertWorkload(
  pool: pg.Pool,
  { from, until, templates }: { from: number; until: number; templates: readonly TemplateSpec[] },
): Promise<Map<string, number>> {
  const meanMs = new Map<string, number>()
  for (const t of templates) {
    if (t.meanMs !== undefined) {
      meanMs.set(t.fingerprint, t.meanMs)
      continue
    }
    let total = 0
    for (let i = 0; i < 3; i++) {
      const { text, params } = t.statement(i)
      const started = performance.now()
      await pool.query(text, params ?? undefined)
      total += performance.now() - started
    }
    meanMs.set(t.fingerprint, total / 3)
  }
  const rows: unknown[][] = []
  for (const t of templates) {
    const mean = meanMs.get(t.fingerprint) as number
    for (let i = 0; i < t.calls; i++) {
      const { text, params } = t.statement(i)
      rows.push([
        new Date(from + ((until - from) * (i + 0.5)) / t.calls),
        t.fingerprint,
        t.normalizedText,
        t.kind ?? 'select',
        t.relationsRead,
        t.relationsWritten ?? [],
        mean * (0.8 + (0.4 * ((i * 37) % 11)) / 10),
        text,
        params,
        JSON.stringify(t.columns),
        t.rows ?? 1,
      ])
    }
  }
  for (let start = 0; start < rows.length; start += 2_000) {
    const batch = rows.slice(start, start + 2_000)
    await pool.query(
      `INSERT INTO cairn_meta.query_events
         (at, database, user_name, application_name, session_id, fingerprint, normalized_text, kind,
          relations_read, relations_written, deterministic, duration_ms, pool_wait_ms, rows, bytes_out,
          statement_text, params, columns)
       SELECT at, current_database(), 'app', 'shop', 's1', fingerprint, normalized_text, kind,
              ARRAY(SELECT jsonb_array_elements_text(relations_read)),
              ARRAY(SELECT jsonb_array_elements_text(relations_written)),
              true, duration_ms, 0, rows, 100, statement_text,
              CASE WHEN params IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(params)) END,
              columns::jsonb
         FROM jsonb_to_recordset($1::jsonb) AS x(at timestamptz, fingerprint text, normalized_text text, kind text,
              relations_read jsonb, relations_written jsonb, duration_ms float8, statement_text text, params jsonb,
              columns text, rows bigint)`,
      [
        JSON.stringify(
          batch.map(
            ([
              at,
              fingerprint,
              normalized_text,
              kind,
              relations_read,
              relations_written,
              duration_ms,
              statement_text,
              params,
              columns,
              rows,
            ]) => ({
              at,
              fingerprint,
              normalized_text,
              kind,
              relations_read,
              relations_written,
              duration_ms,
              statement_text,
              params,
              columns,
              rows,
            }),
          ),
        ),
      ],
    )
  }
  return meanMs
}

/** The partition of cairn_meta.query_events for the UTC day of `at`, created when missing. */
export async function ensureEventPartition(pool: pg.Pool, at: number): Promise<void> {
  const day = new Date(at).toISOString().slice(0, 10)
  const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10)
  await pool
    .query(
      `SELECT format('CREATE TABLE IF NOT EXISTS cairn_meta.%I PARTITION OF cairn_meta.query_events FOR VALUES FROM (%L) TO (%L)',
                   'query_events_' || replace($1, '-', ''), $1::date::timestamp AT TIME ZONE 'UTC',
                   $2::date::timestamp AT TIME ZONE 'UTC') AS ddl`,
      [day, next],
    )
    .then(({ rows }) => pool.query(rows[0]?.ddl as string))
}
