import { constants, setPriority } from 'node:os'

// Agents' heavy work yields the CPU to the proxy: on Linux a thread's nice value is its own,
// so this lowers only this worker thread (elsewhere it may lower the process, or be refused).
try {
  setPriority(constants.priority.PRIORITY_LOW)
} catch {
  // Not permitted here: the work still runs, at normal priority.
}

/**
 * The one function piscina runs: imports the task's module (cached by the
 * module loader after the first task), calls the named export, and says how
 * long it ran (what the pool's CPU share is charged).
 */
export default async function runTask(task: {
  module: string
  name: string
  input?: unknown
}): Promise<{ value: unknown; ms: number }> {
  const mod = (await import(task.module)) as Record<string, unknown>
  const fn = mod[task.name]
  if (typeof fn !== 'function') throw new Error(`${task.module} has no exported function ${task.name}`)
  const started = performance.now()
  const value = await (fn as (input: unknown) => unknown)(task.input)
  return { value, ms: performance.now() - started }
}
