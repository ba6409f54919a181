-- The model registry: every version of every learned model, as ONNX bytes with how it was trained and how
-- accurate it was on rows it never saw. At most one version per name is active: the one agents load.
CREATE TABLE cairn_meta.models (
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]*$'),
  version integer NOT NULL CHECK (version > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- How it was made: 'gradient-boosted-trees' when trained here, 'onnx-import' when brought from elsewhere.
  algorithm text NOT NULL,
  -- The documented input signature: one float32 per name, in this order.
  feature_names text[] NOT NULL,
  -- What the first output holds: ln(milliseconds) or milliseconds.
  output text NOT NULL DEFAULT 'ln_ms' CHECK (output IN ('ln_ms', 'ms')),
  trained_from timestamptz,
  trained_to timestamptz,
  sample_count integer NOT NULL DEFAULT 0 CHECK (sample_count >= 0),
  -- Accuracy on held-out rows (heldOut.medianQError, heldOut.p90QError, ...), and what it was compared with.
  metrics jsonb NOT NULL DEFAULT '{}',
  onnx bytea NOT NULL,
  active boolean NOT NULL DEFAULT false,
  activated_at timestamptz,
  PRIMARY KEY (name, version),
  CHECK (trained_to IS NULL OR trained_from IS NULL OR trained_to >= trained_from)
);

CREATE UNIQUE INDEX models_one_active ON cairn_meta.models (name) WHERE active;

COMMENT ON TABLE cairn_meta.models IS 'Learned models (ONNX), every version kept; at most one active per name';

-- What the latency model learns from: the plan features of a sampled SELECT and how long it took.
-- Bounded: the predictor keeps the newest rows only (its maxSamples setting).
CREATE TABLE cairn_meta.latency_samples (
  sample_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  fingerprint text NOT NULL,
  features real[] NOT NULL,
  actual_ms double precision NOT NULL CHECK (actual_ms >= 0),
  plan_hash text NOT NULL,
  plan_shape text NOT NULL,
  cluster_id integer
);

CREATE INDEX latency_samples_at ON cairn_meta.latency_samples (at);

COMMENT ON TABLE cairn_meta.latency_samples IS 'Training samples of the latency predictor: plan features and measured ms; newest kept';
