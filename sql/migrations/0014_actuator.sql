-- The actuator: changes the advisors propose, applied safely, verified by replaying the workload,
-- kept or rolled back. The state lives here so any process (the CLI, the API) can read and approve.
CREATE TABLE cairn_meta.actions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- `index.create`, `index.drop`, ...: policies are per kind.
  kind text NOT NULL,
  -- Stable identity of the candidate across proposals: verdicts are remembered per key.
  key text NOT NULL,
  -- Schema-qualified table the change touches: one change at a time per table.
  relation text NOT NULL,
  apply_sql text NOT NULL,
  apply_concurrently boolean NOT NULL,
  rollback_sql text NOT NULL,
  rollback_concurrently boolean NOT NULL,
  reason text NOT NULL CHECK (reason <> ''),
  evidence jsonb NOT NULL DEFAULT '{}',
  -- Workload time saved, milliseconds per hour: what the advisor predicted, and what replay measured.
  predicted_benefit_ms double precision,
  measured_benefit_ms double precision,
  -- Bytes the change should take (the storage budget), and what it took once applied.
  size_bytes bigint CHECK (size_bytes >= 0),
  measured_size_bytes bigint CHECK (measured_size_bytes >= 0),
  affected_fingerprints text[] NOT NULL DEFAULT '{}',
  source text NOT NULL,
  state text NOT NULL CHECK (state IN
    ('recommended', 'approved', 'applying', 'verifying', 'kept', 'rolled_back', 'failed', 'rejected')),
  -- A sentence: why the action is in its state (the verdict, the refusal, the error).
  state_reason text,
  proposed_at timestamptz NOT NULL DEFAULT now(),
  approved_at timestamptz,
  approved_by text,
  applied_at timestamptz,
  verified_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The verification's numbers: per-fingerprint medians, ratios, tests, the weighted ratio and its interval.
  verdict jsonb
);

-- At most one live action per candidate: a second proposal of the same key finds the first.
CREATE UNIQUE INDEX actions_live_key ON cairn_meta.actions (key)
  WHERE state IN ('recommended', 'approved', 'applying', 'verifying', 'kept');
CREATE INDEX actions_state ON cairn_meta.actions (state, approved_at);
CREATE INDEX actions_proposed_at ON cairn_meta.actions (proposed_at);

COMMENT ON TABLE cairn_meta.actions IS 'Changes proposed by advisors and their life: recommended, approved, applied, verified, kept or rolled back';

-- Every step of every action, written before (outcome `started`) and after (`ok` or `error`) it runs.
CREATE TABLE cairn_meta.action_audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action_id bigint NOT NULL REFERENCES cairn_meta.actions,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Who or what: a user name, `cli`, `policy`, `actuator`.
  actor text NOT NULL,
  event text NOT NULL CHECK (event IN (
    'proposed', 'approved', 'rejected', 'deferred',
    'baseline.start', 'baseline.end', 'apply.start', 'apply.end', 'verify.start', 'verify.end',
    'rollback.start', 'rollback.end', 'cleanup.start', 'cleanup.end', 'kept', 'failed')),
  sql text,
  outcome text NOT NULL CHECK (outcome IN ('started', 'ok', 'error', 'skipped')),
  detail jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX action_audit_action ON cairn_meta.action_audit (action_id, seq);

CREATE FUNCTION cairn_meta.action_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'cairn_meta.action_audit is append-only (% refused)', TG_OP USING ERRCODE = '55000';
END
$$;

CREATE TRIGGER action_audit_append_only BEFORE UPDATE OR DELETE ON cairn_meta.action_audit
  FOR EACH ROW EXECUTE FUNCTION cairn_meta.action_audit_append_only();

COMMENT ON TABLE cairn_meta.action_audit IS 'Append-only trail of every action step: actor, SQL, outcome';

-- The last verdict per candidate, so a rolled-back or failed candidate is not retried blindly: it is
-- proposed again only after a cool-down, or when its predicted benefit has grown materially (see
-- agents/src/actuator/retry-rule.ts).
CREATE TABLE cairn_meta.action_verdicts (
  key text PRIMARY KEY,
  action_id bigint NOT NULL REFERENCES cairn_meta.actions,
  kind text NOT NULL,
  relation text NOT NULL,
  verdict text NOT NULL CHECK (verdict IN ('kept', 'rolled_back', 'failed', 'rejected')),
  reason text NOT NULL,
  predicted_benefit_ms double precision,
  measured_benefit_ms double precision,
  -- Workload time after / before, weighted by frequency (1 = no change); null when nothing was measured.
  weighted_ratio double precision,
  attempts integer NOT NULL DEFAULT 1 CHECK (attempts > 0),
  decided_at timestamptz NOT NULL DEFAULT now(),
  details jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX action_verdicts_decided_at ON cairn_meta.action_verdicts (decided_at);

COMMENT ON TABLE cairn_meta.action_verdicts IS 'Last verdict per candidate key: predicted vs measured benefit, for advisors and the latency predictor';
