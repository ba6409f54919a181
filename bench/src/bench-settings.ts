/** A numeric BENCH_* setting from the environment, or its default; refuses anything but a non-negative number. */
export function numericSetting(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not "${raw}"`)
  return value
}

/** The settings of `names` that are set, as `NAME=value`, for the command line a report prints. */
export function settingsInEffect(names: readonly string[]): string[] {
  return names.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`)
}

/** Progress for the person running the benchmark, on stderr (stdout carries the report). */
export const progress = (message: string): void => {
  console.error(`bench: ${message}`)
}
