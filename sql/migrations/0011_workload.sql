-- The workload clusterer: groups of query templates that look and run alike, with identities that
-- survive re-clustering (a new clustering is matched to these on members, then on centroid), and
-- the arrival forecasts made for them.
CREATE TABLE cairn_meta.workload_clusters (
  cluster_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  label text NOT NULL,
  -- Feature name -> the members' mean raw feature (see agents/src/workload/template-features.ts).
  centroid jsonb NOT NULL,
  fingerprints integer NOT NULL CHECK (fingerprints >= 0),
  executions bigint NOT NULL CHECK (executions >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Set when a clustering no longer has this cluster; cleared if a later one matches it again.
  retired_at timestamptz
);
CREATE INDEX workload_clusters_active ON cairn_meta.workload_clusters (cluster_id) WHERE retired_at IS NULL;

COMMENT ON TABLE cairn_meta.workload_clusters IS 'Workload clusters; cluster_id is stable across re-clusterings';

-- Each template belongs to at most one cluster; assigned_at is when it joined the one it is in.
CREATE TABLE cairn_meta.workload_cluster_members (
  fingerprint text PRIMARY KEY,
  cluster_id bigint NOT NULL REFERENCES cairn_meta.workload_clusters ON DELETE CASCADE,
  normalized_text text NOT NULL,
  executions bigint NOT NULL CHECK (executions >= 0),
  assigned_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workload_cluster_members_cluster ON cairn_meta.workload_cluster_members (cluster_id);

-- Per cluster and horizon: the arrivals expected in a bucket, with the error measured on held-back history.
CREATE TABLE cairn_meta.workload_forecasts (
  cluster_id bigint NOT NULL REFERENCES cairn_meta.workload_clusters ON DELETE CASCADE,
  made_at timestamptz NOT NULL,
  bucket_ms bigint NOT NULL CHECK (bucket_ms > 0),
  horizon integer NOT NULL CHECK (horizon > 0),
  -- Start of the bucket forecast.
  bucket_start timestamptz NOT NULL,
  predicted double precision NOT NULL,
  held_back_mae double precision NOT NULL,
  held_back_smape double precision NOT NULL,
  naive_mae double precision NOT NULL,
  naive_smape double precision NOT NULL,
  PRIMARY KEY (cluster_id, made_at, horizon)
);
CREATE INDEX workload_forecasts_bucket ON cairn_meta.workload_forecasts (bucket_start);
