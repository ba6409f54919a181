import { execFile as execFileCallback } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { airflowCron, exportAirflowDags, renderAirflowDag } from '../src/scheduler/airflow-export.js'
import type { DagDefinition, TaskDefinition } from '../src/scheduler/dag.js'

const execFile = promisify(execFileCallback)
const run = async () => {}

const CAIRN = 'node /opt/cairn/cli/dist/bin.js'
/** The data interval's part of every bash command, left out for runs without one. */
const INTERVAL =
  "{% if data_interval_start %} --from '{{ data_interval_start | ts }}' --to '{{ data_interval_end | ts }}'{% endif %}"
const ENV = { CAIRN_DATABASE_URL: 'postgres://cairn@db/cairn', CAIRN_LOG_FORMAT: 'json' }

/** A name that needs escaping in the description: quotes, backslashes, line breaks, Jinja, non-ASCII. */
const TRICKY = 'Orders "daily" \\ rollup\n\t\'quoted\' """triple""" {{ ds }} {% raw %} — Grüße 😀 \u2028 end\\'

const dags: DagDefinition[] = [
  {
    name: 'orders_daily',
    description: TRICKY,
    schedule: '0 2 * * *',
    maxActiveRuns: 3,
    maxActiveTasks: 4,
    deadlineMs: 2 * 3_600_000,
    tasks: [
      { name: 'extract', run },
      {
        name: 'load',
        dependsOn: ['extract'],
        retries: 4,
        retryDelayMs: 10_000,
        maxRetryDelayMs: 120_000,
        timeoutMs: 900_000,
        run,
      },
      { name: 'check', dependsOn: ['load'], retries: 0, retryDelayMs: 1_500, run },
      // A Python keyword as a task name.
      { name: 'class', dependsOn: ['load', 'check'], timeoutMs: 90_061_001, run },
      { name: 'audit', dependsOn: ['extract'], run },
    ],
  },
  {
    name: 'rollup',
    description: 'Runs after orders_daily changed data',
    triggeredBy: ['orders_daily'],
    tasks: [
      { name: 'aggregate', retries: 1, run },
      { name: 'publish', dependsOn: ['aggregate'], run },
    ],
  },
  {
    name: 'manual_only',
    description: 'Only runs when triggered by hand',
    tasks: [{ name: 'vacuum', timeoutMs: 7_200_000, run }],
  },
  {
    name: 'either_way',
    description: 'On a schedule, and after either upstream changed data',
    // croner syntax with a seconds field first.
    schedule: '0 30 1 * * *',
    triggeredBy: ['orders_daily', 'rollup'],
    tasks: [
      { name: 'first', run },
      { name: 'second', run },
      { name: 'third', dependsOn: ['first', 'second'], run },
    ],
  },
]

/**
 * Reads an exported DAG file with Python's `ast` (it does not import Airflow) and prints what it
 * declares as JSON: the DAG's arguments, each task's effective arguments (the task's own, else
 * default_args) and the dependency edges, with timedeltas in milliseconds and assets as their URIs.
 */
const READ_DAG_FILE = `
import ast, json, sys
from datetime import timedelta

class Unknown(Exception):
    pass

def read(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    names = {}

    def ev(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {ev(k): ev(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Name):
            if node.id in names:
                return names[node.id]
            raise Unknown("name " + node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = ev(node.left), ev(node.right)
            return {"any": (left["any"] if isinstance(left, dict) and "any" in left else [left]) + [right]}
        if isinstance(node, ast.Call):
            f = ast.unparse(node.func)
            args = [ev(a) for a in node.args]
            kw = {k.arg: ev(k.value) for k in node.keywords}
            if f == "timedelta":
                return timedelta(*args, **kw) // timedelta(milliseconds=1)
            if f == "Asset":
                return {"asset": kw["uri"]}
            if f == "CronDataIntervalTimetable":
                return {"cron": args[0], "timezone": kw["timezone"]}
            if f == "AssetOrTimeSchedule":
                return {"timetable": kw["timetable"], "assets": kw["assets"]}
            if f == "pendulum.datetime":
                return {"datetime": args, **kw}
        raise Unknown(ast.dump(node))

    dag = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            names[stmt.targets[0].id] = ev(stmt.value)
        if isinstance(stmt, ast.With):
            call = stmt.items[0].context_expr
            if isinstance(call, ast.Call) and ast.unparse(call.func) == "DAG":
                if dag is not None:
                    raise Unknown("two DAGs")
                dag = stmt
    if dag is None:
        raise Unknown("no with DAG(...)")
    args = {k.arg: ev(k.value) for k in dag.items[0].context_expr.keywords}
    defaults = args.pop("default_args")
    tasks, variables, edges = {}, {}, []

    def task_ids(node):
        value = node.elts if isinstance(node, ast.List) else [node]
        return [variables[v.id] for v in value]

    def chain(node):
        # a >> b >> c is ((a >> b) >> c): returns the ids on the right end, recording the edges.
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            ups, downs = chain(node.left), task_ids(node.right)
            edges.extend([u, d] for u in ups for d in downs)
            return downs
        return task_ids(node)

    for stmt in dag.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            kw = {k.arg: ev(k.value) for k in stmt.value.keywords}
            effective = {"operator": ast.unparse(stmt.value.func), **defaults, **kw}
            effective.pop("owner", None)
            tasks[kw["task_id"]] = effective
            variables[stmt.targets[0].id] = kw["task_id"]
        elif isinstance(stmt, ast.Expr):
            chain(stmt.value)
        else:
            raise Unknown(ast.dump(stmt))
    return {"dag": args, "tasks": tasks, "edges": sorted(edges)}

print(json.dumps({path: read(path) for path in sys.argv[1:]}, ensure_ascii=True))
`

interface ReadTask {
  operator: string
  task_id: string
  bash_command?: string
  retries: number
  retry_delay: number
  retry_exponential_backoff: boolean
  max_retry_delay: number
  execution_timeout: number
  env?: Record<string, string>
  append_env?: boolean
  outlets?: unknown[]
}

interface ReadDag {
  dag: Record<string, unknown>
  tasks: Record<string, ReadTask>
  edges: [string, string][]
}

/** Runs the system python3; a missing python3 fails the test (the export is only trusted once Python read it). */
async function python3(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFile('python3', args, { maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(
        'python3 is not on PATH. This test needs it to compile and parse the exported Airflow DAG files ' +
          '(python3 -m py_compile and the ast module; Airflow itself is not needed). Install Python 3.',
      )
    const { stderr } = err as { stderr?: string }
    throw new Error(`python3 ${args.slice(0, 2).join(' ')} failed: ${stderr ?? String(err)}`)
  }
}

const asset = (dag: string) => ({ asset: `cairn://dags/${dag}` })

/** Tasks no other task depends on. */
const lastTasks = (dag: DagDefinition) =>
  dag.tasks.filter((t) => !dag.tasks.some((u) => u.dependsOn?.includes(t.name))).map((t) => t.name)
/** Whether another exported DAG is triggered by this one, so that it marks its asset. */
const published = (dag: DagDefinition) => dags.some((d) => d.triggeredBy?.includes(dag.name))
const defaults = {
  retries: 2,
  retry_delay: 5_000,
  retry_exponential_backoff: true,
  max_retry_delay: 300_000,
  execution_timeout: 3_600_000,
}

/** What the file must declare for a task, from the definition and Cairn's defaults. */
function expectedTask(dag: DagDefinition, task: TaskDefinition): ReadTask {
  const last = lastTasks(dag)
  const outlet = published(dag) && last.length === 1 && last[0] === task.name
  return {
    operator: 'BashOperator',
    task_id: task.name,
    bash_command: `${CAIRN} pipeline run-task ${dag.name} ${task.name}${INTERVAL}`,
    retries: task.retries ?? defaults.retries,
    retry_delay: task.retryDelayMs ?? defaults.retry_delay,
    retry_exponential_backoff: true,
    max_retry_delay: task.maxRetryDelayMs ?? defaults.max_retry_delay,
    execution_timeout: task.timeoutMs ?? defaults.execution_timeout,
    env: ENV,
    append_env: true,
    ...(outlet ? { outlets: [asset(dag.name)] } : {}),
  }
}

/** The tasks and edges the file must declare: the DAG's, and a marker after several last tasks. */
function expectedGraph(dag: DagDefinition): { tasks: Record<string, ReadTask>; edges: [string, string][] } {
  const tasks = Object.fromEntries(dag.tasks.map((t) => [t.name, expectedTask(dag, t)]))
  const edges = dag.tasks.flatMap((t) => (t.dependsOn ?? []).map((d): [string, string] => [d, t.name]))
  const last = lastTasks(dag)
  if (published(dag) && last.length > 1) {
    const marker = 'cairn_run_succeeded'
    tasks[marker] = { operator: 'EmptyOperator', task_id: marker, ...defaults, outlets: [asset(dag.name)] }
    edges.push(...last.map((t): [string, string] => [t, marker]))
  }
  return { tasks, edges: edges.sort() }
}

let dir: string
let files: string[]
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-airflow-export-'))
  files = await exportAirflowDags(dags, dir, { cairnCommand: CAIRN, env: ENV })
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/**
 * The exported files as Python reads them, by DAG name. Each test that needs Python awaits it, so
 * without python3 every one of them fails with the reason (a failing beforeAll would report them as
 * skipped).
 */
let parsed: Promise<Record<string, ReadDag>> | undefined
async function readFiles(): Promise<Record<string, ReadDag>> {
  parsed ??= python3(['-c', READ_DAG_FILE, ...files]).then((out) => {
    const byPath = JSON.parse(out) as Record<string, ReadDag>
    return Object.fromEntries(dags.map((d) => [d.name, byPath[join(dir, `${d.name}.py`)] as ReadDag]))
  })
  return parsed
}

describe('exportAirflowDags', () => {
  it('writes one <dag>.py per DAG, and nothing else', async () => {
    expect(files.map((f) => basename(f))).toEqual(dags.map((d) => `${d.name}.py`))
    expect((await readdir(dir)).sort()).toEqual(dags.map((d) => `${d.name}.py`).sort())
  })

  it('writes files that Python compiles', async () => {
    await python3(['-m', 'py_compile', ...files])
  })

  it.each(dags.map((d) => [d.name, d] as const))(
    '%s: the file declares exactly the DAG and its tasks',
    async (_, dag) => {
      const file = (await readFiles())[dag.name]
      expect(file).toBeDefined()
      const { dag: args, tasks, edges } = file as ReadDag
      expect(args.dag_id).toBe(dag.name)
      expect(args.description).toBe(dag.description)
      expect(args.catchup).toBe(false)
      expect(args.max_active_runs).toBe(dag.maxActiveRuns ?? 1)
      expect(args.max_active_tasks).toBe(dag.maxActiveTasks ?? 2)
      expect(args.start_date).toEqual({ datetime: [2025, 1, 1], tz: 'UTC' })
      expect(args).not.toHaveProperty('dagrun_timeout')
      const expected = expectedGraph(dag)
      expect(Object.keys(tasks)).toEqual(Object.keys(expected.tasks))
      for (const [name, task] of Object.entries(expected.tasks)) expect(tasks[name]).toEqual(task)
      expect(edges).toEqual(expected.edges)
    },
  )

  it('marks an asset only for DAGs another DAG is triggered by: on the last task, or after several', async () => {
    const read = await readFiles()
    const tasksOf = (name: string) => Object.keys(read[name]?.tasks ?? {})
    expect(tasksOf('orders_daily')).toContain('cairn_run_succeeded')
    expect(read.rollup?.tasks.publish?.outlets).toEqual([asset('rollup')])
    for (const name of ['manual_only', 'either_way']) {
      expect(tasksOf(name)).not.toContain('cairn_run_succeeded')
      expect(Object.values(read[name]?.tasks ?? {}).some((t) => t.outlets)).toBe(false)
    }
  })

  it('maps schedules and triggers', async () => {
    const read = await readFiles()
    const schedule = (name: string) => read[name]?.dag.schedule
    expect(schedule('orders_daily')).toEqual({ cron: '0 2 * * *', timezone: 'UTC' })
    expect(schedule('rollup')).toEqual([asset('orders_daily')])
    expect(schedule('manual_only')).toBeNull()
    expect(schedule('either_way')).toEqual({
      timetable: { cron: '30 1 * * *', timezone: 'UTC' },
      assets: { any: [asset('orders_daily'), asset('rollup')] },
    })
  })
})

describe('renderAirflowDag', () => {
  const base: DagDefinition = { name: 'd', description: 'x', tasks: [{ name: 'a', run }] }

  it('uses `cairn` by default and adds no environment', () => {
    const source = renderAirflowDag(base)
    expect(source).toContain(`bash_command="cairn pipeline run-task d a${INTERVAL}"`)
    expect(source).not.toContain('env=')
  })

  it('imports BashOperator for Airflow 3 and 2, and notes the deadline without mapping it', () => {
    const source = renderAirflowDag({ ...base, deadlineMs: 1_800_000 })
    expect(source).toContain('from airflow.providers.standard.operators.bash import BashOperator')
    expect(source).toContain('from airflow.operators.bash import BashOperator')
    expect(source).toContain('not finished 30 min after it started')
    expect(source).not.toContain('dagrun_timeout=')
  })

  it('keeps Jinja syntax in the command and environment literal', () => {
    const source = renderAirflowDag(base, { cairnCommand: 'run{{x}}', env: { A: '{% if %}' } })
    expect(source).toContain('"{% raw %}run{{x}}{% endraw %} pipeline run-task d a')
    expect(source).toContain('"A": "{% raw %}{% if %}{% endraw %}"')
  })

  it('refuses what the scheduler refuses, and what Airflow cannot schedule', () => {
    const refusal = (dag: Partial<DagDefinition>) => {
      try {
        renderAirflowDag({ ...base, ...dag })
      } catch (err) {
        return err as { code?: string; message: string }
      }
      throw new Error(`rendered ${JSON.stringify(dag)}`)
    }
    const refused = (dag: Partial<DagDefinition>, why: RegExp) => {
      const err = refusal(dag)
      expect(err.code).toBe('CAIRN_ERR_SCHEDULER_INVALID_DAG')
      expect(err.message).toMatch(why)
    }
    // The scheduler's validation (defineDag) runs first; its messages are its own.
    for (const bad of [
      { name: 'Bad-Name' },
      { tasks: [] },
      { tasks: [{ name: 'a', dependsOn: ['b'], run }] },
      {
        tasks: [
          { name: 'a', dependsOn: ['b'], run },
          { name: 'b', dependsOn: ['a'], run },
        ],
      },
      { tasks: [{ name: 'a', retries: -1, run }] },
    ])
      refused(bad, /Invalid DAG definition/)
    refused({ schedule: '*/5 * * * * *' }, /more often than once a minute/)
    refused({ schedule: '0 0 0 * * * 2030' }, /names years/)
    refused({ schedule: '0 0 1 * +MON' }, /both day of month and day of week/)
    expect(() => renderAirflowDag(base, { env: { 'NOT-A-NAME': 'x' } })).toThrow(/environment variable name/)
    expect(() => renderAirflowDag(base, { cairnCommand: ' ' })).toThrow(/cairnCommand is empty/)
  })

  it('marks the asset by default, and refuses a task named like the marker', () => {
    const source = renderAirflowDag({
      ...base,
      tasks: [
        { name: 'a', run },
        { name: 'b', run },
      ],
    })
    expect(source).toContain('CAIRN_ASSET = Asset(uri="cairn://dags/d")')
    expect(source).toContain('    [task_a, task_b] >> task_cairn_run_succeeded')
    expect(renderAirflowDag(base, { publishAsset: false })).not.toContain('Asset')
    const taken = {
      ...base,
      tasks: [
        { name: 'cairn_run_succeeded', run },
        { name: 'b', run },
      ],
    }
    expect(() => renderAirflowDag(taken)).toThrow(/taken by the Airflow export/)
  })

  it('maps maxActiveTasks, and retry delays of 0', () => {
    const source = renderAirflowDag({ ...base, maxActiveTasks: 7, tasks: [{ name: 'a', retryDelayMs: 0, run }] })
    expect(source).toContain('max_active_tasks=7,')
    expect(source).toContain('retry_delay=timedelta(0),')
  })

  it('spells out cron nicknames and drops a zero seconds field', () => {
    expect(airflowCron('d', '@hourly')).toBe('0 * * * *')
    expect(airflowCron('d', '@daily')).toBe('0 0 * * *')
    expect(airflowCron('d', ' 0 15 3 * * 1-5 ')).toBe('15 3 * * 1-5')
    expect(airflowCron('d', '*/10 * * * *')).toBe('*/10 * * * *')
    expect(airflowCron('d', '0 0 12 ? * MON *')).toBe('0 12 * * MON')
    expect(airflowCron('d', '0 22 * * 5L')).toBe('0 22 * * L5')
    expect(airflowCron('d', '0 9 * * MON#2')).toBe('0 9 * * MON#2')
  })
})
