-- The pipeline scheduler's state: one row per DAG run, one row per task try. Several Cairn processes
-- may run a scheduler on the same database; a run is executed by whichever claims it (status
-- 'queued' → 'running' with claimed_by set, under FOR UPDATE SKIP LOCKED and a per-DAG advisory lock),
-- and UNIQUE (dag, run_key) keeps one row per cron period, so no period is run twice at once.

CREATE TABLE cairn_meta.dag_runs (
  dag_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag text NOT NULL,
  run_key text NOT NULL,
  interval_from timestamptz NOT NULL,
  interval_to timestamptz NOT NULL,
  trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'backfill', 'data', 'rerun')),
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  tasks text[],
  attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  keep_from_attempt integer NOT NULL DEFAULT 1,
  claimed_by text,
  heartbeat_at timestamptz,
  queued_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  deadline_at timestamptz,
  deadline_alerted boolean NOT NULL DEFAULT false,
  error text,
  UNIQUE (dag, run_key),
  CHECK (interval_from <= interval_to),
  CHECK (keep_from_attempt BETWEEN 1 AND attempt),
  CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND started_at IS NOT NULL AND heartbeat_at IS NOT NULL))
);

COMMENT ON TABLE cairn_meta.dag_runs IS
  'One row per DAG run. A re-run (rerunFailed, backfill with reprocess) queues the same row again with attempt + 1; the tries of every attempt stay in task_runs.';
COMMENT ON COLUMN cairn_meta.dag_runs.run_key IS
  'Identifies the run within its DAG: the interval start (ISO 8601, UTC) for scheduled and backfill runs, so a period has one row; manual:<uuid> for manual runs; data:<upstream dag>:<upstream run id>:<attempt> for data-triggered runs.';
COMMENT ON COLUMN cairn_meta.dag_runs.trigger IS 'What queued the current attempt of the run.';
COMMENT ON COLUMN cairn_meta.dag_runs.tasks IS 'The tasks this run covers; NULL for all of the DAG''s tasks.';
COMMENT ON COLUMN cairn_meta.dag_runs.attempt IS 'Incremented each time the run is queued again (re-run, scheduler stopped, claim lost).';
COMMENT ON COLUMN cairn_meta.dag_runs.keep_from_attempt IS
  'Tasks that succeeded in this attempt or a later one are not run again; a full re-run raises it to the new attempt.';
COMMENT ON COLUMN cairn_meta.dag_runs.claimed_by IS 'Instance id of the scheduler executing (or that executed) the run.';
COMMENT ON COLUMN cairn_meta.dag_runs.heartbeat_at IS
  'Refreshed by the claiming scheduler while it runs; a running run whose heartbeat is stale is queued again by another scheduler.';
COMMENT ON COLUMN cairn_meta.dag_runs.deadline_at IS 'started_at + the DAG''s deadlineMs; NULL when the DAG has none.';

CREATE INDEX dag_runs_queued ON cairn_meta.dag_runs (dag, queued_at, dag_run_id) WHERE status = 'queued';
CREATE INDEX dag_runs_running ON cairn_meta.dag_runs (dag) WHERE status = 'running';
CREATE INDEX dag_runs_recent ON cairn_meta.dag_runs (dag, dag_run_id DESC);

CREATE TABLE cairn_meta.task_runs (
  dag_run_id bigint NOT NULL REFERENCES cairn_meta.dag_runs ON DELETE CASCADE,
  task text NOT NULL,
  attempt integer NOT NULL CHECK (attempt >= 1),
  dag_run_attempt integer NOT NULL CHECK (dag_run_attempt >= 1),
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'upstream_failed')),
  started_at timestamptz,
  finished_at timestamptz,
  error text,
  log text NOT NULL DEFAULT '',
  summary jsonb,
  PRIMARY KEY (dag_run_id, task, attempt),
  CHECK (status IN ('skipped', 'upstream_failed') OR started_at IS NOT NULL),
  CHECK (status = 'running' OR finished_at IS NOT NULL)
);

COMMENT ON TABLE cairn_meta.task_runs IS
  'One row per task try of a DAG run (status running, succeeded or failed, with its own log and summary), plus one row per task that did not run because a task upstream failed (upstream_failed). attempt numbers the rows of a task within its DAG run across re-runs.';
COMMENT ON COLUMN cairn_meta.task_runs.dag_run_attempt IS 'The attempt of the DAG run this row belongs to (dag_runs.attempt).';
COMMENT ON COLUMN cairn_meta.task_runs.summary IS
  'What the task reported; a numeric "changed" > 0 starts the DAGs triggered by this one after the run succeeds.';

CREATE INDEX task_runs_running ON cairn_meta.task_runs (dag_run_id) WHERE status = 'running';
