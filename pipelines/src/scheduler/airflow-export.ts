import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { errors } from '@cairn/core'
import type { DagDefinition, TaskDefinition } from './dag.js'
import { DAG_DEFAULTS, defineDag, TASK_DEFAULTS } from './dag-validation.js'

/**
 * Export of Cairn DAGs as Apache Airflow DAG files, for teams that run their orchestration in Airflow.
 *
 * Each Cairn DAG becomes one Python file. Every Cairn task becomes a BashOperator that calls
 * `<cairnCommand> pipeline run-task <dag> <task> --from <interval start> --to <interval end>` (see
 * `airflowBashCommand`), so Airflow only orchestrates and Cairn still does the work. The files are for
 * Airflow 2.9+ and 3.x: where the two differ (BashOperator, EmptyOperator, Dataset/Asset, the
 * asset-or-time schedule) they import with a fallback. `bench/airflow/check-airflow-export.sh` loads and
 * runs them in a real Airflow. Mapping:
 *
 * | Cairn | Airflow |
 * |---|---|
 * | `name`, `description` | `dag_id`, `description` |
 * | `schedule` (cron, UTC) | `CronDataIntervalTimetable(cron, "UTC")`: a run covers the period that just ended, as in Cairn, on Airflow 2 and 3 alike (a bare cron string gets zero-length data intervals on Airflow 3); croner-only syntax is translated (`airflowCron`) |
 * | no `schedule` | `schedule=None` (manual or API triggers only) |
 * | `triggeredBy` | the asset `cairn://dags/<upstream>`, marked by the upstream DAG when a run succeeded (see `publishAsset`); several upstreams are or-ed, and with a cron as well, `AssetOrTimeSchedule` |
 * | `maxActiveRuns`, `maxActiveTasks` | `max_active_runs`, `max_active_tasks` |
 * | `retries`, `retryDelayMs`, `maxRetryDelayMs` | `retries`, `retry_delay`, `max_retry_delay`, `retry_exponential_backoff=True` |
 * | `timeoutMs` | `execution_timeout` |
 * | `dependsOn` | `upstream >> task` |
 * | `deadlineMs` | not mapped (a comment in the file): it is an alert, not a timeout, and Airflow 2's `sla` and Airflow 3's deadline alerts have nothing in common |
 *
 * Differences that remain: Airflow's exponential backoff adds up to 100 % jitter to each delay; Airflow
 * marks the asset after every successful run, not only after runs that changed data, so a triggered DAG
 * may run and find nothing new (Cairn's tasks are idempotent, so that costs one short run).
 */

export interface AirflowExportOptions {
  /**
   * The shell command that runs Cairn on the Airflow workers, e.g. `cairn` (default) or
   * `node /opt/cairn/cli/dist/bin.js`. It is inserted into the bash command as it is.
   */
  readonly cairnCommand?: string
  /** Extra environment for every task (added to the worker's environment, not replacing it). */
  readonly env?: Readonly<Record<string, string>>
  /**
   * Whether a successful run marks the DAG's asset, which DAGs triggered by it are scheduled on
   * (default true; `exportAirflowDags` sets it for the DAGs that another exported DAG is triggered by).
   * The asset is an outlet of the DAG's last task; a DAG that ends in several tasks gets one more,
   * an EmptyOperator `cairn_run_succeeded` after all of them, so that a run marks it once.
   */
  readonly publishAsset?: boolean
}

/** The task added after the last tasks of a DAG that ends in several, to mark its asset once per run. */
export const AIRFLOW_RUN_SUCCEEDED_TASK = 'cairn_run_succeeded'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The asset a Cairn DAG updates when a run succeeds, and that DAGs triggered by it are scheduled on. */
export function airflowAssetUri(dagName: string): string {
  return `cairn://dags/${dagName}`
}

/**
 * The `bash_command` of one task, a Jinja template: Airflow fills in the run's data interval as ISO 8601
 * (`ts`). A run without one (on Airflow 3, asset-triggered runs and manual runs without a logical date)
 * passes no interval, and `run-task` takes the period ending now, as for a manual run in Cairn.
 */
export function airflowBashCommand(dag: string, task: string, cairnCommand = 'cairn'): string {
  return (
    `${jinjaLiteral(cairnCommand)} pipeline run-task ${dag} ${task}` +
    `{% if data_interval_start %} --from '{{ data_interval_start | ts }}' --to '{{ data_interval_end | ts }}'{% endif %}`
  )
}

/** Renders one Cairn DAG as the source of an Airflow DAG file. Pure: no Python is needed. */
export function renderAirflowDag(definition: DagDefinition, options: AirflowExportOptions = {}): string {
  // The scheduler's own validation (names, dependencies, cycles, numbers, cron), then what Airflow adds.
  const dag = defineDag(definition)
  checkOptions(options)
  const cairnCommand = options.cairnCommand ?? 'cairn'
  const env = options.env && Object.keys(options.env).length > 0 ? options.env : undefined
  const triggers = [...new Set(dag.triggeredBy ?? [])]
  const cron = dag.schedule === undefined ? undefined : airflowCron(dag.name, dag.schedule)
  const publish = options.publishAsset ?? true
  const sinks = sinkTasks(dag.tasks)
  // Where the asset is marked: the one last task, or a task added after several.
  const marker = publish && sinks.length > 1 ? AIRFLOW_RUN_SUCCEEDED_TASK : undefined
  if (marker !== undefined && dag.tasks.some((t) => t.name === marker))
    throw errors.SCHEDULER_INVALID_DAG(`${dag.name}: the task name ${marker} is taken by the Airflow export`)
  const outletTask = publish && sinks.length === 1 ? sinks[0] : undefined

  const header = [
    `# Airflow DAG for the Cairn DAG ${dag.name}, exported from its definition. Export again after a change`,
    '# instead of editing: each task calls `cairn pipeline run-task`, so Cairn still does the work.',
  ]
  if (dag.deadlineMs !== undefined) {
    header.push(
      `# Deadline: Cairn raises an alert when a run is not finished ${duration(dag.deadlineMs)} after it started,`,
      '# and the run goes on. That is no timeout, so it is not mapped to dagrun_timeout; an Airflow SLA',
      '# (Airflow 2) or deadline alert (Airflow 3) can stand in for it.',
    )
  }
  header.push('from datetime import timedelta')

  const imports = ['import pendulum', 'from airflow import DAG']
  if (cron !== undefined) imports.push('from airflow.timetables.interval import CronDataIntervalTimetable')
  // Where Airflow 2 and 3 differ: one try/except import each.
  const compat: string[][] = [
    [
      'try:  # Airflow 3, or Airflow 2 with the standard provider',
      '    from airflow.providers.standard.operators.bash import BashOperator',
      'except ImportError:  # Airflow 2',
      '    from airflow.operators.bash import BashOperator',
    ],
  ]
  if (marker !== undefined) {
    compat.push([
      'try:  # Airflow 3, or Airflow 2 with the standard provider',
      '    from airflow.providers.standard.operators.empty import EmptyOperator',
      'except ImportError:  # Airflow 2',
      '    from airflow.operators.empty import EmptyOperator',
    ])
  }
  if (publish || triggers.length > 0) {
    compat.push([
      'try:  # Airflow 3',
      '    from airflow.sdk import Asset',
      'except ImportError:  # Airflow 2.4+: assets were called datasets',
      '    from airflow.datasets import Dataset as Asset',
    ])
  }
  if (cron !== undefined && triggers.length > 0) {
    compat.push([
      'try:  # Airflow 3',
      '    from airflow.timetables.assets import AssetOrTimeSchedule',
      'except ImportError:  # Airflow 2.9+',
      '    from airflow.timetables.datasets import DatasetOrTimeSchedule',
      '',
      '    def AssetOrTimeSchedule(*, timetable, assets):',
      '        return DatasetOrTimeSchedule(timetable=timetable, datasets=assets)',
    ])
  }

  const definitions: string[][] = []
  if (publish) {
    definitions.push([
      '# Marked after every successful run of this DAG; the DAGs triggered by it are scheduled on it.',
      `CAIRN_ASSET = Asset(uri=${py(airflowAssetUri(dag.name))})`,
    ])
  }
  if (triggers.length > 0) {
    const assets = triggers.map((t) => `Asset(uri=${py(airflowAssetUri(t))})`)
    definitions.push([
      '# Cairn runs this DAG when one of these DAGs finished a run that changed data. Airflow marks an asset',
      '# after every successful run, so a run here may find nothing new (the tasks are idempotent).',
      // One asset as a list; several or-ed with `|` (a list of several would wait for all of them).
      ...(assets.length === 1
        ? [`TRIGGERED_BY = [${assets[0]}]`]
        : ['TRIGGERED_BY = (', ...assets.map((a, i) => `    ${i === 0 ? '' : '| '}${a}`), ')']),
    ])
  }
  if (env) {
    definitions.push([
      'CAIRN_ENV = {',
      ...Object.entries(env).map(([key, value]) => `    ${py(key)}: ${py(jinjaLiteral(value))},`),
      '}',
    ])
  }
  definitions.push([
    "# Cairn's task defaults; a task's own settings follow in its operator.",
    'default_args = {',
    '    "owner": "cairn",',
    `    "retries": ${TASK_DEFAULTS.retries},`,
    `    "retry_delay": ${timedelta(TASK_DEFAULTS.retryDelayMs)},`,
    '    "retry_exponential_backoff": True,',
    `    "max_retry_delay": ${timedelta(TASK_DEFAULTS.maxRetryDelayMs)},`,
    `    "execution_timeout": ${timedelta(TASK_DEFAULTS.timeoutMs)},`,
    '}',
  ])

  const body = [
    'with DAG(',
    `    dag_id=${py(dag.name)},`,
    `    description=${py(dag.description)},`,
    `    schedule=${scheduleExpression(cron, triggers.length > 0)},`,
    '    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),',
    '    catchup=False,',
    `    max_active_runs=${dag.maxActiveRuns ?? DAG_DEFAULTS.maxActiveRuns},`,
    `    max_active_tasks=${dag.maxActiveTasks ?? DAG_DEFAULTS.maxActiveTasks},`,
    '    default_args=default_args,',
    '    tags=["cairn"],',
    ') as dag:',
  ]
  for (const task of dag.tasks) {
    body.push(
      `    task_${task.name} = BashOperator(`,
      `        task_id=${py(task.name)},`,
      `        bash_command=${py(airflowBashCommand(dag.name, task.name, cairnCommand))},`,
    )
    if (task.retries !== undefined) body.push(`        retries=${task.retries},`)
    if (task.retryDelayMs !== undefined) body.push(`        retry_delay=${timedelta(task.retryDelayMs)},`)
    if (task.maxRetryDelayMs !== undefined) body.push(`        max_retry_delay=${timedelta(task.maxRetryDelayMs)},`)
    if (task.timeoutMs !== undefined) body.push(`        execution_timeout=${timedelta(task.timeoutMs)},`)
    if (env) body.push('        env=CAIRN_ENV,', '        append_env=True,')
    if (task.name === outletTask) body.push('        outlets=[CAIRN_ASSET],')
    body.push('    )')
  }
  if (marker !== undefined) {
    body.push(
      `    task_${marker} = EmptyOperator(`,
      `        task_id=${py(marker)},`,
      '        outlets=[CAIRN_ASSET],',
      '    )',
    )
  }
  const edges: string[] = []
  for (const task of dag.tasks) {
    const upstream = [...new Set(task.dependsOn ?? [])].map((d) => `task_${d}`)
    if (upstream.length === 1) edges.push(`    ${upstream[0]} >> task_${task.name}`)
    if (upstream.length > 1) edges.push(`    [${upstream.join(', ')}] >> task_${task.name}`)
  }
  if (marker !== undefined) edges.push(`    [${sinks.map((t) => `task_${t}`).join(', ')}] >> task_${marker}`)
  if (edges.length > 0) body.push('', ...edges)

  const blocks = [header, imports, ...compat].map((b) => b.join('\n'))
  const module = definitions.map((d) => d.join('\n')).join('\n\n')
  return `${blocks.join('\n\n')}\n\n\n${module}\n\n${body.join('\n')}\n`
}

/**
 * Writes `<dag>.py` for each DAG into `dir` (created if missing) and returns the paths, in the order
 * of `dags`. Each file is written beside its place and renamed, so Airflow never parses half a file.
 * Unless `publishAsset` is given, only the DAGs that another of `dags` is triggered by mark an asset.
 */
export async function exportAirflowDags(
  dags: readonly DagDefinition[],
  dir: string,
  options: AirflowExportOptions = {},
): Promise<string[]> {
  const seen = new Set<string>()
  for (const dag of dags) {
    if (seen.has(dag.name)) throw errors.SCHEDULER_INVALID_DAG(`two DAGs are named ${dag.name}`)
    seen.add(dag.name)
  }
  const triggers = new Set(dags.flatMap((d) => d.triggeredBy ?? []))
  const rendered = dags.map((dag) => ({
    name: dag.name,
    source: renderAirflowDag(dag, { ...options, publishAsset: options.publishAsset ?? triggers.has(dag.name) }),
  }))
  await mkdir(dir, { recursive: true })
  const paths: string[] = []
  for (const { name, source } of rendered) {
    const path = join(dir, `${name}.py`)
    const temporary = join(dir, `.${name}.py.${process.pid}.tmp`)
    await writeFile(temporary, source, 'utf8')
    await rename(temporary, path)
    paths.push(path)
  }
  return paths
}

/**
 * A Python string literal. A JSON string is one: the same escapes (`\"`, `\\`, `\n`, `\uXXXX`), and
 * non-ASCII text stays as it is (the file is UTF-8, Python's default source encoding).
 */
function py(text: string): string {
  return JSON.stringify(text)
}

/** `timedelta(...)` for a duration in milliseconds, in the largest unit that divides it. */
function timedelta(ms: number): string {
  if (ms === 0) return 'timedelta(0)'
  if (ms % 3_600_000 === 0) return `timedelta(hours=${ms / 3_600_000})`
  if (ms % 60_000 === 0) return `timedelta(minutes=${ms / 60_000})`
  if (ms % 1000 === 0) return `timedelta(seconds=${ms / 1000})`
  return `timedelta(milliseconds=${ms})`
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`
  if (ms % 60_000 === 0) return `${ms / 60_000} min`
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

/**
 * Text that Jinja leaves as it is. Airflow renders `bash_command` and `env` as Jinja templates, so a
 * `{{`, `{%` or `{#` in a literal part would be read as template syntax.
 */
function jinjaLiteral(text: string): string {
  if (!/\{[{%#]/.test(text)) return text
  if (/\{%-?\s*endraw/.test(text)) throw errors.CONFIG_INVALID(`cannot quote this text for Jinja: ${text}`)
  return `{% raw %}${text}{% endraw %}`
}

function scheduleExpression(cron: string | undefined, triggered: boolean): string {
  const timetable = cron === undefined ? undefined : `CronDataIntervalTimetable(${py(cron)}, timezone="UTC")`
  if (timetable !== undefined && triggered) return `AssetOrTimeSchedule(timetable=${timetable}, assets=TRIGGERED_BY)`
  if (timetable !== undefined) return timetable
  return triggered ? 'TRIGGERED_BY' : 'None'
}

const CRON_NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

/**
 * The five-field cron Airflow reads (croniter syntax) for a croner expression: nicknames spelled out,
 * a leading seconds field dropped when it is `0` (Airflow schedules at most once a minute), a trailing
 * year field dropped when it is `*`, `?` read as `*` (croner's alias), and croner's last weekday of the
 * month `5L` written `L5`. Croner's `+` (day of month AND day of week) has no croniter equivalent.
 */
export function airflowCron(dagName: string, schedule: string): string {
  const trimmed = schedule.trim()
  const nickname = CRON_NICKNAMES[trimmed.toLowerCase()]
  if (nickname !== undefined) return nickname
  const fields = trimmed.split(/\s+/).map((f) => f.replace(/\?/g, '*'))
  const invalid = (why: string) =>
    errors.SCHEDULER_INVALID_DAG(`${dagName}: the schedule ${JSON.stringify(schedule)} ${why}`)
  if (fields.length === 7) {
    if (fields[6] !== '*') throw invalid('names years, which Airflow cron expressions cannot')
    fields.pop()
  }
  if (fields.length === 6) {
    if (fields[0] !== '0') throw invalid('runs more often than once a minute, which Airflow cannot')
    fields.shift()
  }
  if (fields.length !== 5) throw invalid('is not a cron expression of 5 fields (6 with seconds first, 7 with a year)')
  const [minute, hour, day, month, weekday] = fields as [string, string, string, string, string]
  if (weekday.startsWith('+')) throw invalid('needs both day of month and day of week (+), which Airflow cannot')
  return [minute, hour, day, month, weekday.replace(/^([0-7]|[a-z]{3})L$/i, 'L$1')].join(' ')
}

/** Tasks no other task depends on: the last ones of a run, in definition order. */
function sinkTasks(tasks: readonly TaskDefinition[]): string[] {
  const upstream = new Set(tasks.flatMap((t) => t.dependsOn ?? []))
  return tasks.filter((t) => !upstream.has(t.name)).map((t) => t.name)
}

function checkOptions(options: AirflowExportOptions): void {
  if (options.cairnCommand !== undefined && options.cairnCommand.trim() === '')
    throw errors.CONFIG_INVALID('cairnCommand is empty')
  for (const key of Object.keys(options.env ?? {}))
    if (!ENV_NAME.test(key)) throw errors.CONFIG_INVALID(`${JSON.stringify(key)} is not an environment variable name`)
}
