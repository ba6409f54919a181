#!/usr/bin/env bash
# Checks Cairn's Airflow export (pipelines/src/scheduler/airflow-export.ts) against a real Apache Airflow:
# installs Airflow in a throwaway venv, exports Cairn's four DAGs into a fresh AIRFLOW_HOME, and has
# Airflow import, list, render and run them. Not part of CI (it installs Airflow from PyPI); see README.md.
#
#   bash bench/airflow/check-airflow-export.sh
#   CAIRN_AIRFLOW_VERSION=3.3.2 bash bench/airflow/check-airflow-export.sh
#
# Settings (environment):
#   CAIRN_AIRFLOW_VERSION       apache-airflow version to install (default 2.11.2)
#   CAIRN_AIRFLOW_VENV          the venv (default <repo>/.cairn/airflow-venv); reinstalled when the
#                               version or the Python version changes, kept otherwise
#   CAIRN_AIRFLOW_PYTHON_BIN    the Python that creates the venv (default python3)
#   CAIRN_AIRFLOW_CAIRN_COMMAND the command the exported tasks call (default: `node <repo>/cli/dist/bin.js`
#                               when it has `pipeline run-task`, else `true`, which makes `dags test` run
#                               Airflow's side of every task, with the rendered command, but no Cairn work)
#   CAIRN_AIRFLOW_EXPORT        cli: with `cairn pipeline export-airflow`; library: with exportAirflowDags() from
#                               pipelines/dist; auto (default): cli when the CLI has the command
#   CAIRN_AIRFLOW_TEST_DAGS     DAGs to run with `airflow dags test` (default all four; "" for none)
#   CAIRN_AIRFLOW_TEST_DATE     their logical date (default 2025-01-02)
#   CAIRN_AIRFLOW_KEEP=1        keep the temporary AIRFLOW_HOME (it is always kept after a failure)
# Downloads: PyPI (pip). The official constraints file is used when it can be fetched; without it, the
# pinned apache-airflow version is installed with pip's own resolution.
# Progress goes to stderr; the summary, one PASS/FAIL line per check, to stdout. Exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${CAIRN_AIRFLOW_VENV:-$ROOT/.cairn/airflow-venv}
AIRFLOW_VERSION=${CAIRN_AIRFLOW_VERSION:-2.11.2}
PYTHON_BIN=${CAIRN_AIRFLOW_PYTHON_BIN:-python3}
TEST_DATE=${CAIRN_AIRFLOW_TEST_DATE:-2025-01-02}
EXPECTED_DAGS=(bronze_ingestion silver_transformation gold_aggregation maintenance)
TEST_DAGS=${CAIRN_AIRFLOW_TEST_DAGS-${EXPECTED_DAGS[*]}}
CLI=$ROOT/cli/dist/bin.js
EXPORT_WITH=${CAIRN_AIRFLOW_EXPORT:-auto}
case $EXPORT_WITH in auto | cli | library) ;; *) die "CAIRN_AIRFLOW_EXPORT must be auto, cli or library" ;; esac

say() { echo "airflow-check: $*" >&2; }
die() {
  echo "airflow-check: error: $*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"; }

RESULTS=()
FAILED=0
pass() {
  RESULTS+=("PASS  $1")
  say "PASS  $1"
}
fail() {
  RESULTS+=("FAIL  $1")
  say "FAIL  $1"
  FAILED=1
}

need node "Node.js 20, to export the DAGs"
need "$PYTHON_BIN" "Python for the Airflow venv"
need npx "npm's npx, to build pipelines"

# --- Build: the export runs from pipelines/dist -----------------------------------------------------
say "building pipelines (tsc -b)"
(cd "$ROOT" && npx tsc -b pipelines) >&2 || die "'npx tsc -b pipelines' failed"

# --- Airflow in a venv -------------------------------------------------------------------------------
PY_VERSION=$("$PYTHON_BIN" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die "$PYTHON_BIN does not run"
PY_FULL=$("$PYTHON_BIN" -c 'import platform; print(platform.python_version())')
WANT="apache-airflow==$AIRFLOW_VERSION python$PY_VERSION"
CONSTRAINTS_URL="https://raw.githubusercontent.com/apache/airflow/constraints-$AIRFLOW_VERSION/constraints-$PY_VERSION.txt"

install_airflow() {
  if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$WANT" ] && "$VENV/bin/airflow" version >/dev/null 2>&1; then
    say "venv: $WANT is there ($VENV)"
    return
  fi
  say "venv: creating $VENV with $WANT (pip, PyPI; takes a few minutes)"
  rm -rf "$VENV"
  "$PYTHON_BIN" -m venv "$VENV" >&2 || die "'$PYTHON_BIN -m venv' failed (is the venv module installed?)"
  local constraints=() fetched=$VENV/constraints.txt
  if "$VENV/bin/python" - "$CONSTRAINTS_URL" "$fetched" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=20) as response:
    open(sys.argv[2], "wb").write(response.read())
PY
    say "venv: using the official constraints file $CONSTRAINTS_URL"
    constraints=(--constraint "$fetched")
    echo "official constraints file ($CONSTRAINTS_URL)" >"$VENV/.constraints"
  else
    say "venv: the constraints file is not reachable ($CONSTRAINTS_URL); installing the pinned version without it"
    echo "none (constraints file not reachable; pip resolved the dependencies of the pinned version)" >"$VENV/.constraints"
  fi
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "apache-airflow==$AIRFLOW_VERSION" "${constraints[@]}" >&2; then
    rm -rf "$VENV"
    die "pip install apache-airflow==$AIRFLOW_VERSION failed for Python $PY_VERSION (apache-airflow 2.11.2 takes Python 3.10-3.12, 3.3.2 takes 3.10-3.14; see CAIRN_AIRFLOW_PYTHON_BIN)"
  fi
  "$VENV/bin/airflow" version >/dev/null 2>&1 || die "airflow was installed but 'airflow version' fails"
  echo "$WANT" >"$VENV/.stamp"
}
install_airflow
AIRFLOW=$VENV/bin/airflow
INSTALLED=$("$AIRFLOW" version 2>/dev/null | tail -n 1)
pass "Apache Airflow $INSTALLED installed on Python $PY_FULL (constraints: $(cat "$VENV/.constraints" 2>/dev/null || echo unknown))"

# --- A fresh AIRFLOW_HOME ----------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-airflow.XXXXXX")
SCRATCH_DB=
cleanup() {
  if [ -n "$SCRATCH_DB" ]; then
    psql "$ADMIN_URL" -qAtc "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || say "could not drop the database $SCRATCH_DB"
  fi
  if [ "$FAILED" = 0 ] && [ "${CAIRN_AIRFLOW_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else say "kept $WORK (logs in $WORK/logs)"; fi
}
trap cleanup EXIT
mkdir -p "$WORK/dags" "$WORK/logs"
export AIRFLOW_HOME=$WORK/home
export AIRFLOW__CORE__DAGS_FOLDER=$WORK/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
mkdir -p "$AIRFLOW_HOME"

# Runs airflow with its output in $WORK/logs/<name>.log; prints the last lines when it fails.
run_airflow() {
  local name=$1
  shift
  if "$AIRFLOW" "$@" >"$WORK/logs/$name.log" 2>&1; then return 0; fi
  tail -n 30 "$WORK/logs/$name.log" >&2
  return 1
}
# The JSON that `airflow ... -o json` printed among its log lines.
json_of() {
  "$VENV/bin/python" - "$1" <<'PY'
import json, sys
found = None
for line in open(sys.argv[1]):
    try:
        found = json.loads(line)
    except ValueError:
        pass
print(json.dumps(found))
PY
}

say "AIRFLOW_HOME=$AIRFLOW_HOME: migrating the metadata database (SQLite)"
if run_airflow db-migrate db migrate; then
  pass "airflow db migrate"
elif run_airflow db-init db init; then
  pass "airflow db init (this version has no 'db migrate')"
else
  fail "airflow db migrate / db init"
  exit 1
fi

# --- Export ------------------------------------------------------------------------------------------
cli_has() { [ -f "$CLI" ] && node "$CLI" pipeline "$1" --help >/dev/null 2>&1; }

if [ -n "${CAIRN_AIRFLOW_CAIRN_COMMAND:-}" ]; then
  CAIRN_COMMAND=$CAIRN_AIRFLOW_CAIRN_COMMAND
  COMMAND_NOTE="set by CAIRN_AIRFLOW_CAIRN_COMMAND"
elif cli_has run-task; then
  CAIRN_COMMAND="node $CLI"
  COMMAND_NOTE="the real CLI: 'cairn pipeline run-task' exists"
else
  CAIRN_COMMAND=true
  COMMAND_NOTE="'cairn pipeline run-task' does not exist yet, so the tasks run 'true' with Cairn's arguments"
fi
say "tasks call: $CAIRN_COMMAND ($COMMAND_NOTE)"
USE_CLI_EXPORT=0
if [ "$EXPORT_WITH" = cli ] || { [ "$EXPORT_WITH" = auto ] && cli_has export-airflow; }; then USE_CLI_EXPORT=1; fi

# The CLI works on Cairn's database. Unless CAIRN_DATABASE_URL names one, it gets a new database of its
# own on the local services' PostgreSQL, with the migrations applied, dropped at the end.
if { [ "$USE_CLI_EXPORT" = 1 ] || [ "$CAIRN_COMMAND" = "node $CLI" ]; } && [ -z "${CAIRN_DATABASE_URL:-}" ]; then
  need psql "the PostgreSQL client, to create a scratch database"
  say "the CLI needs a database: starting the local services (scripts/services.sh up)"
  services=$(bash "$ROOT/scripts/services.sh" up) || die "scripts/services.sh up failed"
  eval "$services"
  ADMIN_URL=$CAIRN_DATABASE_URL
  SCRATCH_DB=cairn_airflow_check_$$
  psql "$ADMIN_URL" -qAtc "CREATE DATABASE $SCRATCH_DB" >/dev/null || die "could not create the database $SCRATCH_DB"
  CAIRN_DATABASE_URL=$("$VENV/bin/python" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$SCRATCH_DB")
  export CAIRN_DATABASE_URL CAIRN_REDIS_URL
  node "$CLI" migrate >"$WORK/logs/cairn-migrate.log" 2>&1 || {
    tail -n 20 "$WORK/logs/cairn-migrate.log" >&2
    die "'cairn migrate' failed on $SCRATCH_DB"
  }
  pass "scratch database $SCRATCH_DB on the local services' PostgreSQL, migrated with 'cairn migrate'"
fi

# The Node side: exports the DAGs with the library (pipelines/dist) unless the CLI does it, and writes
# what Airflow must show for them (expected.json) from Cairn's definitions.
EXPORT_JS=$(
  cat <<'JS'
// With -e there is no script path in argv: the five arguments are the last ones.
const [root, dir, cairnCommand, expectPath, writeFiles] = process.argv.slice(-5)
const lib = (path) => import(`${root}/${path}`)
const { exportAirflowDags, airflowBashCommand, airflowAssetUri, airflowCron, AIRFLOW_RUN_SUCCEEDED_TASK } = await lib(
  'pipelines/dist/scheduler/airflow-export.js',
)
const { TASK_DEFAULTS, DAG_DEFAULTS } = await lib('pipelines/dist/scheduler/dag-validation.js')
const run = async () => {}
// What the four DAGs look like, for when pipelineDags() cannot be loaded.
const sample = [
  { name: 'bronze_ingestion', description: 'Loads new data from every configured source into bronze', schedule: '*/15 * * * *',
    deadlineMs: 1_800_000, tasks: ['ingest_inbox', 'ingest_demo'].map((name) => ({ name, retries: 3, retryDelayMs: 5_000, timeoutMs: 3_600_000, run })) },
  { name: 'silver_transformation', description: 'Types, validates, deduplicates and historises bronze into silver',
    triggeredBy: ['bronze_ingestion'], deadlineMs: 1_800_000,
    tasks: [['customers', []], ['products', []], ['orders', ['customers']], ['order_items', ['orders', 'products']],
      ['payments', ['orders']], ['returns', ['orders']], ['clickstream_events', ['customers', 'products']],
      ['dim_date', ['orders', 'clickstream_events']]].map(([name, dependsOn]) => ({ name, dependsOn, run })) },
  { name: 'gold_aggregation', description: 'Recomputes the gold marts for what silver changed', triggeredBy: ['silver_transformation'],
    deadlineMs: 1_800_000, tasks: [{ name: 'marts', retries: 2, retryDelayMs: 5_000, timeoutMs: 3_600_000, run }] },
  { name: 'maintenance', description: 'ANALYZE, VACUUM, REFRESH of materialized views, bronze retention, telemetry partitions',
    schedule: '0 3 * * *', deadlineMs: 7_200_000,
    tasks: [{ name: 'analyze', run }, { name: 'vacuum', dependsOn: ['analyze'], run }, { name: 'refresh_views', run },
      { name: 'bronze_retention', run }, { name: 'telemetry_partitions', run }] },
]
let dags
let source
let kind
try {
  const { pipelineDags } = await lib('pipelines/dist/dags/index.js')
  const { createSourceRegistry } = await lib('pipelines/dist/sources/builtin-sources.js')
  const { createLogger, loadConfig } = await lib('core/dist/index.js')
  const log = createLogger({ level: 'silent' })
  try {
    // The settings `cairn pipeline …` uses: Cairn's configuration (CAIRN_* variables, cairn.config.json).
    const { pipelineSettingsFromConfig } = await lib('pipelines/dist/dags/settings-from-config.js')
    dags = pipelineDags(pipelineSettingsFromConfig(loadConfig()), createSourceRegistry(), log)
    source = "Cairn's DAGs: pipelineDags() with the settings of Cairn's configuration"
    kind = 'config'
  } catch (err) {
    const settings = {
      sources: [
        { plugin: 'files', instance: 'inbox', config: { dir: '/var/lib/cairn/inbox' } },
        { plugin: 'generator', instance: 'demo', config: {} },
      ],
      ingestCron: '*/15 * * * *',
      maintenanceCron: '0 3 * * *',
      bronzeRetentionDays: 30,
      telemetryRetentionDays: 14,
    }
    dags = pipelineDags(settings, createSourceRegistry(), log)
    source = `Cairn's DAGs: pipelineDags() with sample settings (the configuration's could not be had: ${err.message})`
    kind = 'sample-settings'
  }
} catch (err) {
  dags = sample
  source = `sample DAGs mirroring the four (pipelineDags() could not be loaded: ${err.message})`
  kind = 'sample-dags'
}
if (writeFiles === 'yes') await exportAirflowDags(dags, dir, { cairnCommand })
const triggers = new Set(dags.flatMap((d) => d.triggeredBy ?? []))
const expected = {}
for (const dag of dags) {
  const last = dag.tasks.filter((t) => !dag.tasks.some((u) => (u.dependsOn ?? []).includes(t.name))).map((t) => t.name)
  const publish = triggers.has(dag.name)
  const tasks = {}
  for (const t of dag.tasks) {
    tasks[t.name] = {
      upstream: [...(t.dependsOn ?? [])].sort(),
      retries: t.retries ?? TASK_DEFAULTS.retries,
      retry_delay_ms: t.retryDelayMs ?? TASK_DEFAULTS.retryDelayMs,
      max_retry_delay_ms: t.maxRetryDelayMs ?? TASK_DEFAULTS.maxRetryDelayMs,
      execution_timeout_ms: t.timeoutMs ?? TASK_DEFAULTS.timeoutMs,
      bash_command: airflowBashCommand(dag.name, t.name, cairnCommand),
      outlets: publish && last.length === 1 ? [airflowAssetUri(dag.name)] : [],
    }
  }
  if (publish && last.length > 1) {
    tasks[AIRFLOW_RUN_SUCCEEDED_TASK] = { upstream: [...last].sort(), outlets: [airflowAssetUri(dag.name)] }
  }
  expected[dag.name] = {
    // The croner expression as Airflow's croniter reads it (the same for plain 5-field expressions).
    cron: dag.schedule === undefined ? null : airflowCron(dag.name, dag.schedule),
    triggered_by: (dag.triggeredBy ?? []).map(airflowAssetUri).sort(),
    max_active_runs: dag.maxActiveRuns ?? DAG_DEFAULTS.maxActiveRuns,
    max_active_tasks: dag.maxActiveTasks ?? DAG_DEFAULTS.maxActiveTasks,
    tasks,
  }
}
const { writeFile } = await import('node:fs/promises')
await writeFile(expectPath, JSON.stringify({ source, kind, dags: expected }, null, 2))
console.log(kind)
console.error(`export: ${source}`)
JS
)
EXPECT=$WORK/expected.json
# Prints what the DAGs came from: config, sample-settings or sample-dags.
export_with_node() { (cd "$ROOT" && node --input-type=module -e "$EXPORT_JS" "$ROOT" "$WORK/dags" "$CAIRN_COMMAND" "$EXPECT" "$1"); }

if [ "$USE_CLI_EXPORT" = 1 ]; then
  say "exporting with the CLI: cairn pipeline export-airflow"
  args=(pipeline export-airflow "$WORK/dags")
  help=$(node "$CLI" pipeline export-airflow --help 2>/dev/null || true)
  if [[ $help == *--cairn-command* ]]; then
    args+=(--cairn-command "$CAIRN_COMMAND")
  elif [ "$CAIRN_COMMAND" != cairn ]; then
    # The files call `cairn`: put one on PATH that runs the chosen command (the tasks inherit PATH).
    mkdir -p "$WORK/bin"
    printf '#!/bin/sh\nexec %s "$@"\n' "$CAIRN_COMMAND" >"$WORK/bin/cairn"
    chmod +x "$WORK/bin/cairn"
    export PATH="$WORK/bin:$PATH"
  fi
  if node "$CLI" "${args[@]}" >"$WORK/logs/export.log" 2>&1; then
    pass "exported with 'cairn pipeline export-airflow' ($(find "$WORK/dags" -name '*.py' | wc -l) files)"
  else
    tail -n 20 "$WORK/logs/export.log" >&2
    fail "exported with 'cairn pipeline export-airflow'"
  fi
  # The CLI exports the DAGs of Cairn's configuration: compared in full when the Node side read the same.
  kind=$(export_with_node no 2>"$WORK/logs/expected.log" || true)
  if [ "$kind" = config ]; then
    EXPECT_MODE=exact
    say "expected DAGs: $(sed -n 's/^export: //p' "$WORK/logs/expected.log")"
  elif [ -n "$kind" ]; then
    EXPECT_MODE=generic
    say "expected DAGs: $(sed -n 's/^export: //p' "$WORK/logs/expected.log"): not the CLI's, so only the commands are compared"
  else
    tail -n 20 "$WORK/logs/expected.log" >&2
    fail "the expected DAGs could be computed from pipelines/dist"
    EXPECT_MODE=generic
  fi
else
  say "exporting with exportAirflowDags() from pipelines/dist"
  if export_with_node yes >/dev/null 2>"$WORK/logs/export.log"; then
    pass "exported with exportAirflowDags() from pipelines/dist: $(sed -n 's/^export: //p' "$WORK/logs/export.log")"
  else
    cat "$WORK/logs/export.log" >&2
    fail "exported with exportAirflowDags() from pipelines/dist"
    exit 1
  fi
  EXPECT_MODE=exact
fi
say "tasks call: $CAIRN_COMMAND"

# --- What Airflow makes of the files -----------------------------------------------------------------
CHECK_PY=$(
  cat <<'PY'
import inspect, json, os, sys, warnings

dags_dir, expect_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
try:  # Airflow 3.1+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag

results = []
def check(ok, name, detail=""):
    results.append(("PASS" if ok else "FAIL") + "  " + name + (": " + detail if detail and not ok else ""))

kwargs = {"include_examples": False} if "include_examples" in inspect.signature(DagBag.__init__).parameters else {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    bag = DagBag(dag_folder=dags_dir, **kwargs)
errors = "; ".join(f"{os.path.basename(k)}: {str(v).strip().splitlines()[-1]}" for k, v in bag.import_errors.items())
check(not bag.import_errors, "DagBag imports every exported file", errors)
ours = [w for w in caught if os.path.abspath(str(w.filename)).startswith(os.path.abspath(dags_dir))]
check(not ours, "no warnings raised by the exported files",
      "; ".join(f"{os.path.basename(w.filename)}:{w.lineno} {w.category.__name__}: {w.message}" for w in ours))

expected = json.load(open(expect_path))["dags"] if os.path.exists(expect_path) else {}

def asset_uris(condition):
    # An asset (Airflow 3) or dataset (Airflow 2), or an and/or of them.
    if condition is None:
        return []
    if isinstance(getattr(condition, "uri", None), str):
        return [condition.uri]
    if isinstance(getattr(condition, "objects", None), (list, tuple)):
        return sorted(uri for o in condition.objects for uri in asset_uris(o))
    for name in ("iter_assets", "iter_datasets"):
        if hasattr(condition, name):
            return sorted(a.uri for _, a in getattr(condition, name)())
    raise TypeError(f"cannot read the assets of {condition!r}")

def schedule_of(dag):
    tt = dag.timetable
    condition = getattr(tt, "asset_condition", getattr(tt, "dataset_condition", None))
    inner = getattr(tt, "timetable", tt)
    cron = getattr(inner, "_expression", None) if type(inner).__name__ == "CronDataIntervalTimetable" else None
    return (" ".join(cron.split()) if cron else None), asset_uris(condition), type(tt).__name__

def ms(delta):
    return None if delta is None else round(delta.total_seconds() * 1000)

first = {}
for dag_id in sorted(bag.dags):
    dag = bag.dags[dag_id]
    want = expected.get(dag_id)
    problems = []
    for task in dag.tasks:
        command = getattr(task, "bash_command", None)
        if command is not None and f" pipeline run-task {dag_id} {task.task_id}" not in command:
            problems.append(f"{task.task_id}: bash_command {command!r} does not run the task")
    if dag.catchup:
        problems.append("catchup is on")
    if want is not None and mode == "exact":
        cron, triggers, kind = schedule_of(dag)
        if cron != want["cron"]:
            problems.append(f"cron {cron!r} ({kind}), expected {want['cron']!r}")
        if triggers != want["triggered_by"]:
            problems.append(f"assets {triggers}, expected {want['triggered_by']}")
        for key in ("max_active_runs", "max_active_tasks"):
            if getattr(dag, key) != want[key]:
                problems.append(f"{key} {getattr(dag, key)}, expected {want[key]}")
        if sorted(dag.task_ids) != sorted(want["tasks"]):
            problems.append(f"tasks {sorted(dag.task_ids)}, expected {sorted(want['tasks'])}")
        for task in dag.tasks:
            spec = want["tasks"].get(task.task_id)
            if spec is None:
                continue
            seen = {
                "upstream": sorted(task.upstream_task_ids),
                "outlets": sorted(a.uri for a in task.outlets),
            }
            if "retries" in spec:
                seen.update(
                    retries=task.retries,
                    retry_delay_ms=ms(task.retry_delay),
                    max_retry_delay_ms=ms(task.max_retry_delay),
                    execution_timeout_ms=ms(task.execution_timeout),
                    bash_command=task.bash_command,
                )
                if not task.retry_exponential_backoff:
                    problems.append(f"{task.task_id}: no exponential backoff")
            for key, value in seen.items():
                if value != spec[key]:
                    problems.append(f"{task.task_id}.{key} = {value!r}, expected {spec[key]!r}")
    first[dag_id] = [t.task_id for t in dag.tasks if getattr(t, "bash_command", None) is not None][:1]
    what = "tasks, dependencies, retries, timeouts, commands, schedule" if want is not None and mode == "exact" else "commands"
    check(not problems, f"{dag_id}: Airflow's DAG matches Cairn's ({len(dag.tasks)} tasks; {what})", "; ".join(problems))
json.dump(first, open(os.path.join(os.path.dirname(expect_path), "first-tasks.json"), "w"))
print("\n".join(results))
sys.exit(0 if all(r.startswith("PASS") for r in results) else 1)
PY
)
say "loading the exported files with Airflow's DagBag"
"$VENV/bin/python" -c "$CHECK_PY" "$WORK/dags" "$EXPECT" "$EXPECT_MODE" >"$WORK/logs/dagbag.out" 2>"$WORK/logs/dagbag.log" || true
if ! grep -q '^PASS\|^FAIL' "$WORK/logs/dagbag.out"; then
  tail -n 30 "$WORK/logs/dagbag.log" >&2
  fail "DagBag check ran"
fi
while IFS= read -r line; do
  case $line in
    PASS*) pass "${line#PASS  }" ;;
    FAIL*) fail "${line#FAIL  }" ;;
  esac
done <"$WORK/logs/dagbag.out"

# --- The CLI's view ----------------------------------------------------------------------------------
run_airflow reserialize dags reserialize || fail "airflow dags reserialize"

if run_airflow import-errors dags list-import-errors -o json; then
  errors=$(json_of "$WORK/logs/import-errors.log" || true)
  if [ "$errors" = "[]" ]; then pass "airflow dags list-import-errors: none"; else fail "airflow dags list-import-errors: $errors"; fi
else
  fail "airflow dags list-import-errors ran"
fi

if run_airflow dags-list dags list -o json; then
  listed=$("$VENV/bin/python" -c 'import json, sys; print(" ".join(sorted(d["dag_id"] for d in json.loads(sys.argv[1]))))' "$(json_of "$WORK/logs/dags-list.log")" || true)
  want=$(printf '%s\n' "${EXPECTED_DAGS[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
  if [ "$listed" = "$want" ]; then pass "airflow dags list: $listed"; else fail "airflow dags list: '$listed', expected '$want'"; fi
else
  fail "airflow dags list ran"
fi

TREE=()
help=$("$AIRFLOW" tasks list --help 2>/dev/null || true)
[[ $help == *--tree* ]] && TREE=(--tree)
for dag in "${EXPECTED_DAGS[@]}"; do
  if run_airflow "tasks-$dag" tasks list "$dag" "${TREE[@]}"; then
    pass "airflow tasks list $dag ${TREE[*]}"
    {
      echo "--- airflow tasks list $dag ${TREE[*]}"
      grep -v '^\[\|^[0-9]\{4\}-\|warning\|Warning\|^$\|graphviz' "$WORK/logs/tasks-$dag.log" || true
    } >>"$WORK/logs/tasks.txt"
  else
    fail "airflow tasks list $dag"
  fi
done

# The rendered command of the first task of each DAG carries the data interval as ISO 8601.
for dag in "${EXPECTED_DAGS[@]}"; do
  task=$("$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], [""])[0])' "$WORK/first-tasks.json" "$dag" 2>/dev/null || true)
  if [ -z "$task" ]; then
    fail "airflow tasks render $dag: no task to render"
    continue
  fi
  if run_airflow "render-$dag" tasks render "$dag" "$task" "$TEST_DATE"; then
    rendered=$(grep -o "pipeline run-task $dag ${task}[^\"]*" "$WORK/logs/render-$dag.log" | head -n 1 || true)
    if [[ $rendered =~ --from\ \'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+\+00:00\'\ --to\ \'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+\+00:00\' ]]; then
      pass "airflow tasks render $dag $task $TEST_DATE: ${rendered}"
    else
      fail "airflow tasks render $dag $task $TEST_DATE: no ISO 8601 interval in '${rendered}'"
    fi
  else
    fail "airflow tasks render $dag $task $TEST_DATE"
  fi
done

# --- Runs ---------------------------------------------------------------------------------------------
for dag in $TEST_DAGS; do
  say "airflow dags test $dag $TEST_DATE (tasks call: $CAIRN_COMMAND)"
  log=$WORK/logs/dags-test-$dag.log
  if run_airflow "dags-test-$dag" dags test "$dag" "$TEST_DATE"; then
    ran=$(grep -o "Running command: .*" "$log" | sed 's/\] \[.*//' | sort -u | wc -l || true)
    if grep -q 'Marking run .* successful' "$log"; then
      pass "airflow dags test $dag $TEST_DATE: run successful, $ran bash commands run (tasks call '$CAIRN_COMMAND')"
    else
      tail -n 30 "$log" >&2
      fail "airflow dags test $dag $TEST_DATE: the run did not succeed"
    fi
  else
    fail "airflow dags test $dag $TEST_DATE"
  fi
done

# --- Summary -----------------------------------------------------------------------------------------
echo
echo "Airflow export check: Apache Airflow $INSTALLED, Python $PY_FULL, tasks call '$CAIRN_COMMAND' ($COMMAND_NOTE)"
printf '  %s\n' "${RESULTS[@]}"
[ -f "$WORK/logs/tasks.txt" ] && sed 's/^/    /' "$WORK/logs/tasks.txt"
total=${#RESULTS[@]}
failed=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^FAIL' || true)
if [ "$FAILED" = 0 ]; then
  echo "RESULT: PASS ($total checks)"
else
  echo "RESULT: FAIL ($failed of $total checks failed; logs in $WORK/logs)"
  exit 1
fi
