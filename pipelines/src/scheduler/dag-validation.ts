import { errors } from '@cairn/core'
import { parseSchedule } from './cron-periods.js'
import type { DagDefinition, TaskDefinition } from './dag.js'

/** DAG and task names. */
export const NAME_PATTERN = /^[a-z][a-z0-9_]*$/

/** What an unset task option means. */
export const TASK_DEFAULTS = {
  retries: 2,
  retryDelayMs: 5_000,
  maxRetryDelayMs: 300_000,
  timeoutMs: 3_600_000,
} as const

/** What an unset DAG option means. */
export const DAG_DEFAULTS = { maxActiveRuns: 1, maxActiveTasks: 2 } as const

/** The longest delay a Node.js timer can wait (about 24.8 days); longer ones would fire at once. */
const MAX_TIMER_MS = 2_147_483_647

/**
 * Validates a DAG when it is defined and returns a frozen copy. Every problem found is listed in one
 * `CAIRN_ERR_SCHEDULER_INVALID_DAG`: names (`[a-z][a-z0-9_]*`), unique task names, known dependencies,
 * no cycles (the cycle is named), a valid cron expression (croner, UTC) that fires at all, and positive
 * numbers. Validating a DAG that `defineDag` returned again is harmless.
 */
export function defineDag(def: DagDefinition): DagDefinition {
  const problems = dagProblems(def)
  if (problems.length > 0) {
    const label = typeof def?.name === 'string' ? `DAG "${def.name}"` : 'DAG'
    throw errors.SCHEDULER_INVALID_DAG(`${label}: ${problems.join('; ')}`)
  }
  return Object.freeze({
    ...def,
    tasks: Object.freeze(def.tasks.map((t) => Object.freeze({ ...t }))),
  })
}

/**
 * Checks a set of DAGs that run together: each is valid, names are unique, every `triggeredBy` names a
 * DAG of the set, and data-aware triggers form no cycle (which would re-run the DAGs forever).
 */
export function validateDags(dags: readonly DagDefinition[]): DagDefinition[] {
  const validated = dags.map(defineDag)
  const problems: string[] = []
  const byName = new Map<string, DagDefinition>()
  for (const dag of validated) {
    if (byName.has(dag.name)) problems.push(`DAG "${dag.name}" is defined twice`)
    byName.set(dag.name, dag)
  }
  for (const dag of validated) {
    for (const upstream of dag.triggeredBy ?? []) {
      if (!byName.has(upstream)) problems.push(`DAG "${dag.name}" is triggered by unknown DAG "${upstream}"`)
    }
  }
  if (problems.length === 0) {
    const cycle = findCycle(
      validated.map((d) => d.name),
      (name) => byName.get(name)?.triggeredBy ?? [],
    )
    if (cycle) problems.push(`data-aware triggers form a cycle: ${cycle.join(' → ')}`)
  }
  if (problems.length > 0) throw errors.SCHEDULER_INVALID_DAG(problems.join('; '))
  return validated
}

/**
 * The tasks in an order that respects their dependencies. Among tasks that could come next, the one
 * declared first does.
 */
export function topologicalOrder(dag: DagDefinition): TaskDefinition[] {
  const remaining = new Map(dag.tasks.map((t) => [t.name, new Set(t.dependsOn ?? [])]))
  const order: TaskDefinition[] = []
  while (order.length < dag.tasks.length) {
    const next = dag.tasks.find((t) => remaining.get(t.name)?.size === 0)
    if (!next) throw errors.SCHEDULER_INVALID_DAG(`DAG "${dag.name}": its tasks form a cycle`)
    remaining.delete(next.name)
    for (const deps of remaining.values()) deps.delete(next.name)
    order.push(next)
  }
  return order
}

/** Every task downstream of `task`, directly or not. */
export function downstreamOf(dag: DagDefinition, task: string): Set<string> {
  const found = new Set<string>()
  const visit = (name: string) => {
    for (const t of dag.tasks) {
      if ((t.dependsOn ?? []).includes(name) && !found.has(t.name)) {
        found.add(t.name)
        visit(t.name)
      }
    }
  }
  visit(task)
  return found
}

function dagProblems(def: DagDefinition): string[] {
  if (typeof def !== 'object' || def === null) return ['the definition is not an object']
  const problems: string[] = []
  if (typeof def.name !== 'string' || !NAME_PATTERN.test(def.name)) {
    problems.push(`name ${JSON.stringify(def.name)} does not match ${NAME_PATTERN.source}`)
  }
  if (typeof def.description !== 'string') problems.push('description must be a string')
  if (def.schedule !== undefined) {
    if (typeof def.schedule !== 'string') problems.push('schedule must be a cron expression string')
    else {
      try {
        if (parseSchedule(def.schedule).nextRun() === null) {
          problems.push(`schedule "${def.schedule}" never fires`)
        }
      } catch (err) {
        problems.push(`schedule "${def.schedule}" is not a valid cron expression (${(err as Error).message})`)
      }
    }
  }
  if (def.triggeredBy !== undefined) {
    if (!Array.isArray(def.triggeredBy)) problems.push('triggeredBy must be an array of DAG names')
    else {
      for (const upstream of def.triggeredBy) {
        if (typeof upstream !== 'string' || !NAME_PATTERN.test(upstream)) {
          problems.push(`triggeredBy names an invalid DAG name ${JSON.stringify(upstream)}`)
        } else if (upstream === def.name) problems.push('a DAG cannot be triggered by itself')
      }
      if (new Set(def.triggeredBy).size !== def.triggeredBy.length) problems.push('triggeredBy repeats a DAG')
    }
  }
  checkNumber(problems, 'maxActiveRuns', def.maxActiveRuns, { integer: true, min: 1 })
  checkNumber(problems, 'maxActiveTasks', def.maxActiveTasks, { integer: true, min: 1 })
  checkNumber(problems, 'deadlineMs', def.deadlineMs, { min: 1, max: MAX_TIMER_MS })

  if (!Array.isArray(def.tasks) || def.tasks.length === 0) {
    problems.push('a DAG needs at least one task')
    return problems
  }
  const names = new Set<string>()
  for (const task of def.tasks) {
    const name = typeof task?.name === 'string' ? task.name : JSON.stringify(task?.name)
    if (typeof task?.name !== 'string' || !NAME_PATTERN.test(task.name)) {
      problems.push(`task name ${JSON.stringify(task?.name)} does not match ${NAME_PATTERN.source}`)
    } else if (names.has(task.name)) problems.push(`task "${task.name}" is defined twice`)
    names.add(name)
    if (typeof task?.run !== 'function') problems.push(`task "${name}" has no run function`)
    const prefix = `task "${name}": `
    checkNumber(problems, `${prefix}retries`, task?.retries, { integer: true, min: 0 })
    checkNumber(problems, `${prefix}retryDelayMs`, task?.retryDelayMs, { min: 0, max: MAX_TIMER_MS })
    checkNumber(problems, `${prefix}maxRetryDelayMs`, task?.maxRetryDelayMs, { min: 0, max: MAX_TIMER_MS })
    checkNumber(problems, `${prefix}timeoutMs`, task?.timeoutMs, { min: 1, max: MAX_TIMER_MS })
    if (task?.dependsOn !== undefined && !Array.isArray(task.dependsOn)) {
      problems.push(`${prefix}dependsOn must be an array of task names`)
    }
  }
  for (const task of def.tasks) {
    const deps = Array.isArray(task?.dependsOn) ? task.dependsOn : []
    for (const dep of deps) {
      if (dep === task.name) problems.push(`task "${task.name}" depends on itself`)
      else if (!names.has(dep)) problems.push(`task "${task.name}" depends on unknown task ${JSON.stringify(dep)}`)
    }
    if (new Set(deps).size !== deps.length) problems.push(`task "${task.name}" lists a dependency twice`)
  }
  if (problems.length === 0) {
    const byName = new Map(def.tasks.map((t) => [t.name, t]))
    const cycle = findCycle(
      def.tasks.map((t) => t.name),
      (name) => byName.get(name)?.dependsOn ?? [],
    )
    if (cycle) problems.push(`tasks form a cycle: ${cycle.join(' → ')}`)
  }
  return problems
}

function checkNumber(
  problems: string[],
  label: string,
  value: unknown,
  { integer = false, min, max = Number.MAX_SAFE_INTEGER }: { integer?: boolean; min: number; max?: number },
): void {
  if (value === undefined) return
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value))
  if (!ok) {
    const what = integer ? 'an integer' : 'a number'
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `between ${min} and ${max}`
    problems.push(`${label} must be ${what} ${range} (got ${JSON.stringify(value)})`)
  }
}

/**
 * A cycle in the graph `node → edges(node)`, as the list of nodes along it with the first repeated at
 * the end (`a → b → a`), or undefined. Edges point from a node to what it depends on.
 */
function findCycle(nodes: readonly string[], edges: (node: string) => readonly string[]): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const path: string[] = []
  const visit = (node: string): string[] | undefined => {
    const s = state.get(node)
    if (s === 'done') return undefined
    if (s === 'visiting') return [...path.slice(path.indexOf(node)), node]
    state.set(node, 'visiting')
    path.push(node)
    for (const next of edges(node)) {
      const cycle = visit(next)
      if (cycle) return cycle
    }
    path.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of nodes) {
    const cycle = visit(node)
    if (cycle) return cycle.reverse()
  }
  return undefined
}
