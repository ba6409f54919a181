-- Gold: the marts dashboards read, kept incrementally from silver's change_seq. The business
-- definitions are written once, here and in pipelines/README.md ("Gold definitions"):
--
-- * A counted order is one whose status is paid, shipped, delivered or returned (the money was taken).
--   placed (unpaid) and cancelled orders are not counted anywhere in gold.
-- * Line revenue is quantity × unit_price − discount, converted to USD at gold.currency_rates.
-- * Refunds are the refund_amount of returns of the line, in USD, attributed to the order's date.
-- * revenue = gross revenue − refunds (net); avg_order_value = revenue / counted orders.
-- * A line's category is the product's category when the order was placed (SCD2 as of order_ts).
-- * A session belongs to the UTC date and device of its first event.

-- Reference rates (fixed, not daily): enough to add up amounts in one currency.
CREATE TABLE gold.currency_rates (
  currency text PRIMARY KEY,
  usd_per_unit numeric(12, 6) NOT NULL CHECK (usd_per_unit > 0)
);
INSERT INTO gold.currency_rates VALUES ('USD', 1), ('EUR', 1.08), ('GBP', 1.27), ('CAD', 0.73), ('AUD', 0.66);

CREATE FUNCTION gold.is_counted_status(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT status IN ('paid', 'shipped', 'delivered', 'returned') $$;

-- One row per order line: its contribution to every mart (kept for every order, counted or not).
CREATE TABLE gold.order_line_facts (
  order_id bigint NOT NULL,
  line_no integer NOT NULL,
  product_id bigint NOT NULL,
  customer_id bigint NOT NULL,
  sales_date date NOT NULL,
  order_ts timestamptz NOT NULL,
  category text NOT NULL,
  channel text NOT NULL,
  country text NOT NULL,
  counted boolean NOT NULL,
  units integer NOT NULL,
  returned_units integer NOT NULL,
  gross_revenue numeric(14, 2) NOT NULL,
  refunds numeric(14, 2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_line_facts_date ON gold.order_line_facts (sales_date);
CREATE INDEX order_line_facts_customer ON gold.order_line_facts (customer_id);
CREATE INDEX order_line_facts_product ON gold.order_line_facts (product_id);

-- One row per session: where and when it started, and how far down the funnel it went.
CREATE TABLE gold.session_facts (
  session_id text PRIMARY KEY,
  session_date date NOT NULL,
  device text NOT NULL,
  events integer NOT NULL,
  viewed_product boolean NOT NULL,
  added_to_cart boolean NOT NULL,
  checked_out boolean NOT NULL,
  purchased boolean NOT NULL
);
CREATE INDEX session_facts_date ON gold.session_facts (session_date);

CREATE TABLE gold.daily_sales (
  sales_date date NOT NULL,
  category text NOT NULL,
  channel text NOT NULL,
  country text NOT NULL,
  orders integer NOT NULL,
  units integer NOT NULL,
  returned_units integer NOT NULL,
  gross_revenue numeric(14, 2) NOT NULL,
  refunds numeric(14, 2) NOT NULL,
  revenue numeric(14, 2) NOT NULL,
  avg_order_value numeric(14, 2),
  unique_customers integer NOT NULL,
  PRIMARY KEY (sales_date, category, channel, country)
);
COMMENT ON TABLE gold.daily_sales IS 'Counted orders by order date, category (as of the order), channel and country; revenue in USD, net of refunds. An order with lines in two categories counts once in each.';

CREATE TABLE gold.customer_360_base (
  customer_id bigint PRIMARY KEY,
  country text,
  segment text,
  orders_count integer NOT NULL,
  lifetime_revenue numeric(14, 2) NOT NULL,
  first_order_ts timestamptz NOT NULL,
  last_order_ts timestamptz NOT NULL,
  avg_order_value numeric(14, 2)
);

-- RFM needs ranks over all customers, so it is a materialized view over the incremental base,
-- refreshed CONCURRENTLY after each gold run (readers never block).
CREATE MATERIALIZED VIEW gold.customer_360 AS
SELECT b.*,
       r.recency_score, r.frequency_score, r.monetary_score,
       CASE
         WHEN r.recency_score >= 4 AND r.frequency_score >= 4 THEN 'champions'
         WHEN b.orders_count = 1 AND r.recency_score >= 4 THEN 'new'
         WHEN r.frequency_score >= 4 THEN 'loyal'
         WHEN r.recency_score <= 2 AND r.frequency_score >= 3 THEN 'at_risk'
         WHEN r.recency_score <= 2 THEN 'hibernating'
         ELSE 'potential'
       END AS rfm_segment
FROM gold.customer_360_base b
JOIN (
  SELECT customer_id,
         ntile(5) OVER (ORDER BY last_order_ts, customer_id) AS recency_score,
         ntile(5) OVER (ORDER BY orders_count, last_order_ts, customer_id) AS frequency_score,
         ntile(5) OVER (ORDER BY lifetime_revenue, customer_id) AS monetary_score
  FROM gold.customer_360_base
) r USING (customer_id)
WITH DATA;
CREATE UNIQUE INDEX customer_360_pk ON gold.customer_360 (customer_id);
COMMENT ON MATERIALIZED VIEW gold.customer_360 IS 'Customers with at least one counted order; RFM scores are quintiles over all of them (5 = most recent, most frequent, highest revenue).';

CREATE TABLE gold.product_performance (
  product_id bigint PRIMARY KEY,
  category text,
  views integer NOT NULL,
  add_to_carts integer NOT NULL,
  purchases integer NOT NULL,
  units_sold integer NOT NULL,
  returned_units integer NOT NULL,
  revenue numeric(14, 2) NOT NULL,
  conversion_rate numeric(8, 4),
  return_rate numeric(8, 4)
);
COMMENT ON TABLE gold.product_performance IS 'views/add_to_carts: clickstream events; purchases: counted orders with the product; conversion_rate = purchases / views; return_rate = returned units / units sold.';

CREATE TABLE gold.daily_funnel (
  session_date date NOT NULL,
  device text NOT NULL,
  sessions integer NOT NULL,
  product_view_sessions integer NOT NULL,
  add_to_cart_sessions integer NOT NULL,
  checkout_sessions integer NOT NULL,
  purchase_sessions integer NOT NULL,
  conversion_rate numeric(8, 4),
  PRIMARY KEY (session_date, device)
);

-- How far into silver gold has read.
CREATE TABLE cairn_meta.gold_watermark (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  last_change_seq bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cairn_meta.gold_watermark (last_change_seq) VALUES (0);

CREATE INDEX clickstream_events_product ON silver.clickstream_events (product_id);
