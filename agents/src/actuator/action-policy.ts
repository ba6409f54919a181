import { errors } from '@cairn/core'
import { isWithinWindow, type MaintenanceWindow, parseMaintenanceWindow } from './maintenance-window.js'

/** `off`: refused; `recommend`: stored until a person approves; `auto`: applied (within budgets and windows). */
export type ActionMode = 'off' | 'recommend' | 'auto'

export const actionModes: readonly ActionMode[] = ['off', 'recommend', 'auto']

/** The policy as written in settings: every field optional. */
export interface ActionPolicyInput {
  /** Mode per action kind: `{ 'index.create': 'auto' }` or `"index.create=auto, index.drop=off"`. */
  modes?: Record<string, string> | string
  /** Mode of kinds not listed. Default `recommend`. */
  defaultMode?: string
  /** Bytes that kept (and in-flight) created objects may take together. Default unlimited. */
  storageBudgetBytes?: number | string | null
  /** Changes applying or verifying at once, across processes. Default 1. */
  maxConcurrentChanges?: number | string
  /**
   * When approved changes are applied automatically: `always`, or UTC windows like `"Mon-Fri 01:00-05:00"`
   * (a list, or one string with `;` between windows). Default `always`.
   */
  windows?: string | readonly string[]
}

/** A validated policy. */
export interface ActionPolicy {
  readonly modes: Readonly<Record<string, ActionMode>>
  readonly defaultMode: ActionMode
  readonly storageBudgetBytes: number | null
  readonly maxConcurrentChanges: number
  /** Empty means always. */
  readonly windows: readonly MaintenanceWindow[]
}

function parseMode(value: unknown, where: string): ActionMode {
  if (typeof value !== 'string' || !actionModes.includes(value as ActionMode))
    throw errors.CONFIG_INVALID(`${where}: expected one of ${actionModes.join(', ')}, got ${JSON.stringify(value)}`)
  return value as ActionMode
}

/** `"index.create=auto, index.drop=off"` or an object, as kind -> unchecked mode. */
function parseModes(modes: ActionPolicyInput['modes']): Record<string, unknown> {
  if (modes === undefined) return {}
  if (typeof modes === 'object' && modes !== null && !Array.isArray(modes)) return modes
  if (typeof modes !== 'string')
    throw errors.CONFIG_INVALID('actuator policy modes: expected kind=mode pairs or an object of kind -> mode')
  const out: Record<string, unknown> = {}
  for (const part of modes
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(part)
    if (!m) throw errors.CONFIG_INVALID(`actuator policy modes: expected kind=mode, got "${part}"`)
    out[m[1] as string] = m[2]
  }
  return out
}

/** Validates a policy; throws `CAIRN_ERR_CONFIG_INVALID` with the reason. */
export function parseActionPolicy(input: ActionPolicyInput = {}): ActionPolicy {
  if (typeof input !== 'object' || input === null) throw errors.CONFIG_INVALID('actuator policy: expected an object')
  const modes: Record<string, ActionMode> = {}
  for (const [kind, mode] of Object.entries(parseModes(input.modes)))
    modes[kind] = parseMode(mode, `actuator policy mode of ${kind}`)
  const defaultMode = parseMode(input.defaultMode ?? 'recommend', 'actuator policy defaultMode')
  const rawBudget = input.storageBudgetBytes ?? null
  const budget = typeof rawBudget === 'string' && rawBudget.trim() !== '' ? Number(rawBudget) : rawBudget
  if (budget !== null && (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 0))
    throw errors.CONFIG_INVALID(
      `actuator policy storageBudgetBytes: expected a number of bytes >= 0, got ${JSON.stringify(rawBudget)}`,
    )
  const maxConcurrentChanges = Number(input.maxConcurrentChanges ?? 1)
  if (!Number.isInteger(maxConcurrentChanges) || maxConcurrentChanges < 1)
    throw errors.CONFIG_INVALID(
      `actuator policy maxConcurrentChanges: expected an integer >= 1, got ${JSON.stringify(input.maxConcurrentChanges)}`,
    )
  const specs = typeof input.windows === 'string' ? input.windows.split(';') : (input.windows ?? ['always'])
  if (!Array.isArray(specs) || specs.some((s) => typeof s !== 'string'))
    throw errors.CONFIG_INVALID('actuator policy windows: expected "always" or a list of "Mon-Fri 01:00-05:00"')
  const always = specs.some((s) => s.trim().toLowerCase() === 'always')
  if (specs.some((s) => s.trim() === ''))
    throw errors.CONFIG_INVALID('actuator policy windows: an empty window; give "always" or "Mon-Fri 01:00-05:00"')
  if (always && specs.length > 1)
    throw errors.CONFIG_INVALID('actuator policy windows: "always" cannot be combined with other windows')
  if (specs.length === 0) throw errors.CONFIG_INVALID('actuator policy windows: give "always" or at least one window')
  return {
    modes,
    defaultMode,
    storageBudgetBytes: budget,
    maxConcurrentChanges,
    windows: always ? [] : specs.map(parseMaintenanceWindow),
  }
}

export function modeOf(policy: ActionPolicy, kind: string): ActionMode {
  return policy.modes[kind] ?? policy.defaultMode
}

/** Whether automatic changes may be applied at `at`. */
export function inMaintenanceWindow(policy: ActionPolicy, at: Date): boolean {
  return policy.windows.length === 0 || policy.windows.some((w) => isWithinWindow(w, at))
}

/** The windows as a phrase, for reasons: `always`, or `Mon-Fri 01:00-05:00 UTC`. */
export function describeWindows(policy: ActionPolicy): string {
  return policy.windows.length === 0 ? 'always' : `${policy.windows.map((w) => w.text).join(', ')} UTC`
}
