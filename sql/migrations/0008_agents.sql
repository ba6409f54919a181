-- Findings: what the agents concluded, immutable once written, replayable in order.
CREATE TABLE cairn_meta.findings (
  id uuid PRIMARY KEY,
  -- Publication order (several findings share a millisecond): what listing and replay order by.
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  source text NOT NULL,
  reason text NOT NULL CHECK (reason <> ''),
  severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  evidence jsonb NOT NULL DEFAULT '{}',
  predicted_benefit_ms double precision
);

CREATE INDEX findings_at ON cairn_meta.findings (at);
CREATE INDEX findings_kind_at ON cairn_meta.findings (kind, at);

CREATE FUNCTION cairn_meta.findings_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cairn.findings_retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'cairn_meta.findings is append-only (% refused)', TG_OP USING ERRCODE = '55000';
END
$$;

CREATE TRIGGER findings_immutable BEFORE UPDATE OR DELETE ON cairn_meta.findings
  FOR EACH ROW EXECUTE FUNCTION cairn_meta.findings_immutable();

COMMENT ON TABLE cairn_meta.findings IS 'Findings published by agents; append-only except for the retention policy';

-- The agent host's view of each agent, written by the leader so any process (the CLI) can read it.
CREATE TABLE cairn_meta.agent_status (
  name text PRIMARY KEY,
  version text NOT NULL,
  state text NOT NULL CHECK (state IN ('starting', 'running', 'backoff', 'stopped', 'failed')),
  host text NOT NULL,
  started_at timestamptz,
  restarts integer NOT NULL DEFAULT 0,
  errors integer NOT NULL DEFAULT 0,
  last_error text,
  events_seen bigint NOT NULL DEFAULT 0,
  events_dropped bigint NOT NULL DEFAULT 0,
  findings bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The statement as sent (literals included) and its bind parameters: what the
-- latency predictor explains and what verification replays. Parse-tree columns
-- are kept too, for the advisors.
ALTER TABLE cairn_meta.query_events
  ADD COLUMN statement_text text,
  ADD COLUMN params text[],
  ADD COLUMN columns jsonb;
