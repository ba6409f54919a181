-- Silver: typed, deduplicated, validated data (the data contract in the design), the safe casts the
-- silver step uses, and the run bookkeeping: runs, watermarks, per-rule quality results, accounting
-- and quarantine.

-- Safe casts: NULL instead of an error for text that is not a valid value, so one bad row never fails
-- a set-based step; the type rules then quarantine the rows whose raw text was present but did not cast.
-- The number checks avoid bounded repetitions such as \d{1,18}, which PostgreSQL's regex engine runs
-- slowly: the digits are counted with length() instead.
CREATE FUNCTION cairn_meta.try_bigint(t text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN btrim(t) ~ '^[+-]?[0-9]+$' AND length(ltrim(btrim(t), '+-0')) <= 18 THEN btrim(t)::bigint END
$$;

CREATE FUNCTION cairn_meta.try_integer(t text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN btrim(t) ~ '^[+-]?[0-9]+$' AND length(ltrim(btrim(t), '+-0')) <= 9 THEN btrim(t)::integer END
$$;

CREATE FUNCTION cairn_meta.try_numeric(t text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN btrim(t) ~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$' AND length(split_part(ltrim(btrim(t), '+-'), '.', 1)) <= 15
    THEN btrim(t)::numeric END
$$;

-- An amount for a numeric(12, 2) column: rounded to cents; NULL when it does not fit.
CREATE FUNCTION cairn_meta.try_amount(t text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN btrim(t) ~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$' AND length(ltrim(split_part(ltrim(btrim(t), '+-'), '.', 1), '0')) <= 10
    THEN round(btrim(t)::numeric, 2) END
$$;

-- ISO 8601 only (what sources are required to send), checked field by field including the days of the
-- month, so the cast never raises. One expression, which the planner inlines where its argument is cheap.
-- STABLE: text without an offset is read in the session's time zone.
CREATE FUNCTION cairn_meta.try_timestamptz(t text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t ~ '^\s*[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?\s*(Z|z|[+-](0\d|1[0-5])(:?[0-5]\d)?)?\s*$' THEN
    CASE WHEN substr(btrim(t), 9, 2)::int <= extract(day FROM make_date(substr(btrim(t), 1, 4)::int, substr(btrim(t), 6, 2)::int, 1) + interval '1 month - 1 day')
      THEN btrim(t)::timestamptz END
  END
$$;

-- One row per pipeline run; the scheduler adds its task and try tables next to it.
CREATE TABLE cairn_meta.pipeline_runs (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pipeline text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  error text,
  summary jsonb
);

-- How far into bronze each silver table has read.
CREATE TABLE cairn_meta.silver_watermarks (
  table_name text PRIMARY KEY,
  bronze_table text NOT NULL,
  last_bronze_id bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per run, table and rule: how many rows were checked and how many failed.
CREATE TABLE cairn_meta.quality_results (
  run_id bigint NOT NULL REFERENCES cairn_meta.pipeline_runs,
  table_name text NOT NULL,
  rule text NOT NULL,
  kind text NOT NULL,
  action text NOT NULL CHECK (action IN ('warn', 'drop', 'quarantine', 'fail')),
  checked bigint NOT NULL,
  failed bigint NOT NULL,
  passed bigint GENERATED ALWAYS AS (checked - failed) STORED,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, table_name, rule)
);

-- Nothing lost: rows_read = rows_written + rows_quarantined + rows_dropped + rows_duplicate.
CREATE TABLE cairn_meta.silver_accounting (
  run_id bigint NOT NULL REFERENCES cairn_meta.pipeline_runs,
  table_name text NOT NULL,
  bronze_from bigint NOT NULL,
  bronze_to bigint NOT NULL,
  rows_read bigint NOT NULL,
  rows_written bigint NOT NULL,
  rows_quarantined bigint NOT NULL,
  rows_dropped bigint NOT NULL,
  rows_duplicate bigint NOT NULL,
  rows_warned bigint NOT NULL,
  inferred_members bigint NOT NULL DEFAULT 0,
  ms integer NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, table_name),
  CONSTRAINT nothing_lost CHECK (rows_read = rows_written + rows_quarantined + rows_dropped + rows_duplicate)
);

-- Rows a quality rule set aside, with the rule, the reason and a reference to the original payload.
CREATE TABLE cairn_meta.quarantine (
  quarantine_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES cairn_meta.pipeline_runs,
  table_name text NOT NULL,
  rule text NOT NULL,
  reason text NOT NULL,
  bronze_table text NOT NULL,
  bronze_id bigint NOT NULL,
  payload jsonb NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_table_rule ON cairn_meta.quarantine (table_name, rule);

-- Every silver step takes one number from this sequence and stamps the rows it writes with it
-- (change_seq), so gold can read what changed since its last run.
CREATE SEQUENCE cairn_meta.silver_change_seq;

-- Dimensions with history (SCD2). The changelog tables keep every accepted version; the history is
-- recomputed from them for the keys a run touched, so late and out-of-order versions land in place.
CREATE TABLE silver.customers_changelog (
  customer_id bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  email text,
  first_name text,
  last_name text,
  phone text,
  country text,
  city text,
  segment text,
  signup_ts timestamptz,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  PRIMARY KEY (customer_id, updated_at)
);

CREATE TABLE silver.customers (
  customer_id bigint NOT NULL,
  email text,
  first_name text,
  last_name text,
  phone text,
  country text,
  city text,
  segment text,
  signup_ts timestamptz,
  valid_from timestamptz NOT NULL,
  valid_to timestamptz,
  is_current boolean NOT NULL,
  is_inferred boolean NOT NULL DEFAULT false,
  version_updated_at timestamptz,
  change_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (customer_id, valid_from),
  CHECK (valid_to IS NULL OR valid_to > valid_from),
  CHECK (is_current = (valid_to IS NULL))
);
CREATE UNIQUE INDEX customers_one_current ON silver.customers (customer_id) WHERE is_current;
CREATE INDEX customers_current_email ON silver.customers (email) WHERE is_current;
COMMENT ON TABLE silver.customers IS 'SCD2 on customer_id; tracked: email, country, city, segment. is_inferred: created by an order that arrived before its customer';

CREATE TABLE silver.products_changelog (
  product_id bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  sku text,
  name text,
  category text,
  brand text,
  price numeric(12, 2),
  currency text,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  PRIMARY KEY (product_id, updated_at)
);

CREATE TABLE silver.products (
  product_id bigint NOT NULL,
  sku text,
  name text,
  category text,
  brand text,
  price numeric(12, 2),
  currency text,
  valid_from timestamptz NOT NULL,
  valid_to timestamptz,
  is_current boolean NOT NULL,
  is_inferred boolean NOT NULL DEFAULT false,
  version_updated_at timestamptz,
  change_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (product_id, valid_from),
  CHECK (valid_to IS NULL OR valid_to > valid_from),
  CHECK (is_current = (valid_to IS NULL))
);
CREATE UNIQUE INDEX products_one_current ON silver.products (product_id) WHERE is_current;
COMMENT ON TABLE silver.products IS 'SCD2 on product_id; tracked: category, brand, price';

CREATE TABLE silver.orders (
  order_id bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  order_ts timestamptz NOT NULL,
  status text NOT NULL,
  channel text,
  country text,
  currency text NOT NULL,
  total_amount numeric(12, 2) NOT NULL,
  updated_at timestamptz NOT NULL,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  change_seq bigint NOT NULL
);
CREATE INDEX orders_customer ON silver.orders (customer_id);
CREATE INDEX orders_order_ts ON silver.orders (order_ts);

CREATE TABLE silver.order_items (
  order_id bigint NOT NULL,
  line_no integer NOT NULL,
  product_id bigint NOT NULL,
  quantity integer NOT NULL,
  unit_price numeric(12, 2) NOT NULL,
  discount numeric(12, 2) NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  change_seq bigint NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product ON silver.order_items (product_id);

CREATE TABLE silver.payments (
  payment_id bigint PRIMARY KEY,
  order_id bigint NOT NULL,
  method text,
  amount numeric(12, 2) NOT NULL,
  currency text,
  paid_at timestamptz,
  status text NOT NULL,
  updated_at timestamptz NOT NULL,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  change_seq bigint NOT NULL
);
CREATE INDEX payments_order ON silver.payments (order_id);

CREATE TABLE silver.returns (
  return_id bigint PRIMARY KEY,
  order_id bigint NOT NULL,
  line_no integer,
  product_id bigint,
  quantity integer NOT NULL,
  reason text,
  refund_amount numeric(12, 2),
  returned_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  change_seq bigint NOT NULL
);
CREATE INDEX returns_order ON silver.returns (order_id);

CREATE TABLE silver.clickstream_events (
  event_id text PRIMARY KEY,
  session_id text NOT NULL,
  customer_id bigint,
  event_type text NOT NULL,
  product_id bigint,
  event_ts timestamptz NOT NULL,
  device text,
  page_url text,
  row_hash text NOT NULL,
  bronze_id bigint NOT NULL,
  change_seq bigint NOT NULL
);
CREATE INDEX clickstream_events_ts ON silver.clickstream_events (event_ts);
CREATE INDEX clickstream_events_session ON silver.clickstream_events (session_id);

CREATE TABLE silver.dim_date (
  date_key integer PRIMARY KEY,
  date date NOT NULL UNIQUE,
  year smallint NOT NULL,
  quarter smallint NOT NULL,
  month smallint NOT NULL,
  month_name text NOT NULL,
  iso_week smallint NOT NULL,
  day_of_month smallint NOT NULL,
  day_of_week smallint NOT NULL,
  day_name text NOT NULL,
  is_weekend boolean NOT NULL
);
COMMENT ON TABLE silver.dim_date IS 'One row per day of the covered range (whole years); date_key is YYYYMMDD';

-- Adds the days of [from, to] that are missing.
CREATE FUNCTION cairn_meta.extend_dim_date(from_date date, to_date date) RETURNS integer
LANGUAGE sql AS $$
  WITH inserted AS (
    INSERT INTO silver.dim_date
    SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(year FROM d), extract(quarter FROM d), extract(month FROM d),
           trim(to_char(d, 'Month')), extract(week FROM d), extract(day FROM d), extract(isodow FROM d),
           trim(to_char(d, 'Day')), extract(isodow FROM d) IN (6, 7)
    FROM generate_series(from_date, to_date, interval '1 day') AS g(d0), LATERAL (SELECT d0::date AS d) x
    ON CONFLICT (date_key) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM inserted
$$;

CREATE INDEX customers_change_seq ON silver.customers (change_seq);
CREATE INDEX products_change_seq ON silver.products (change_seq);
CREATE INDEX orders_change_seq ON silver.orders (change_seq);
CREATE INDEX order_items_change_seq ON silver.order_items (change_seq);
CREATE INDEX payments_change_seq ON silver.payments (change_seq);
CREATE INDEX returns_change_seq ON silver.returns (change_seq);
CREATE INDEX clickstream_events_change_seq ON silver.clickstream_events (change_seq);
