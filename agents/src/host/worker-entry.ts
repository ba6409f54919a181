/**
 * The one function piscina runs: imports the task's module (cached by the
 * module loader after the first task) and calls the named export.
 */
export default async function runTask(task: { module: string; name: string; input?: unknown }): Promise<unknown> {
  const mod = (await import(task.module)) as Record<string, unknown>
  const fn = mod[task.name]
  if (typeof fn !== 'function') throw new Error(`${task.module} has no exported function ${task.name}`)
  return await (fn as (input: unknown) => unknown)(task.input)
}
