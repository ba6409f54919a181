-- The medallion layers and Cairn's own state. Tables arrive with the issues that fill them.
CREATE SCHEMA IF NOT EXISTS bronze;
COMMENT ON SCHEMA bronze IS 'Raw data exactly as it arrived, append-only, with ingest metadata';

CREATE SCHEMA IF NOT EXISTS silver;
COMMENT ON SCHEMA silver IS 'Clean, typed, deduplicated, validated data with history (SCD2) for dimensions';

CREATE SCHEMA IF NOT EXISTS gold;
COMMENT ON SCHEMA gold IS 'Marts for dashboards';

CREATE SCHEMA IF NOT EXISTS cairn_meta;
COMMENT ON SCHEMA cairn_meta IS 'Cairn''s own state: migrations, query events, findings, actions, models, runs, audit';
