-- Bronze: one append-only table per source entity, the payload exactly as received plus ingest metadata.

-- Every batch ever loaded. A batch id is loaded at most once: a retry or the same file again adds no rows.
CREATE TABLE cairn_meta.bronze_batches (
  batch_id text PRIMARY KEY,
  source text NOT NULL,
  entity text NOT NULL,
  position text,
  rows integer NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cairn_meta.bronze_batches IS 'Ledger of loaded source batches; its primary key makes loading idempotent';

-- Source state stored atomically with the rows it describes (e.g. which files are fully loaded).
CREATE TABLE cairn_meta.source_checkpoints (
  source text NOT NULL,
  key text NOT NULL,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, key)
);

CREATE TABLE bronze._template (
  bronze_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id text NOT NULL,
  source text NOT NULL,
  source_position text,
  record_no integer NOT NULL,
  received_at timestamptz NOT NULL,
  payload_hash text NOT NULL,
  payload jsonb NOT NULL
);
COMMENT ON TABLE bronze._template IS 'Shape of every bronze table; never holds rows';
COMMENT ON COLUMN bronze._template.payload_hash IS 'md5 of the payload text as received';

-- Bronze is append-only: UPDATE, DELETE and TRUNCATE are refused unless the retention policy says so
-- for its own transaction (SET LOCAL cairn.bronze_retention = 'on').
CREATE FUNCTION cairn_meta.bronze_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('cairn.bronze_retention', true), '') = 'on' THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NULL END;
  END IF;
  RAISE EXCEPTION 'bronze.% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Only the bronze retention policy deletes from bronze.';
END $$;

-- Creates bronze.<entity> when it does not exist yet (new sources bring new entities).
CREATE FUNCTION cairn_meta.ensure_bronze_table(entity text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF entity !~ '^[a-z][a-z0-9_]{0,62}$' OR entity = '_template' THEN
    RAISE EXCEPTION 'invalid bronze entity name: %', entity USING ERRCODE = 'invalid_name';
  END IF;
  IF to_regclass(format('bronze.%I', entity)) IS NOT NULL THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('cairn.bronze.create'));
  IF to_regclass(format('bronze.%I', entity)) IS NOT NULL THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE TABLE bronze.%I (LIKE bronze._template INCLUDING ALL)', entity);
  EXECUTE format(
    'CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON bronze.%I FOR EACH ROW EXECUTE FUNCTION cairn_meta.bronze_append_only()',
    entity);
  EXECUTE format(
    'CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON bronze.%I FOR EACH STATEMENT EXECUTE FUNCTION cairn_meta.bronze_append_only()',
    entity);
END $$;

SELECT cairn_meta.ensure_bronze_table(e)
FROM unnest(ARRAY['customers', 'products', 'orders', 'order_items', 'payments', 'returns', 'clickstream_events']) AS e;
