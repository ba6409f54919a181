import { errors } from '@cairn/core'

/** A weekly window, in UTC, when automatic changes may be applied. */
export interface MaintenanceWindow {
  /** The spec it was parsed from, for messages. */
  readonly text: string
  /** Days the window starts on, 0 = Sunday. */
  readonly days: readonly number[]
  /** Minutes after midnight UTC; `end <= start` runs past midnight into the next day. */
  readonly startMinute: number
  readonly endMinute: number
}

const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const minutesPerDay = 24 * 60

const fullDayNames = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']

/** `Mon` or `Monday`, any case. */
function parseDay(name: string, spec: string): number {
  const lower = name.toLowerCase()
  const day = Math.max(dayNames.indexOf(lower as (typeof dayNames)[number]), fullDayNames.indexOf(lower))
  if (day < 0) throw errors.CONFIG_INVALID(`maintenance window "${spec}": unknown day "${name}"`)
  return day
}

/** `Mon-Fri`, `Sat,Sun`, `Fri-Mon` (wraps), `daily` or `*`. */
function parseDays(text: string, spec: string): number[] {
  if (text === 'daily' || text === '*') return [0, 1, 2, 3, 4, 5, 6]
  const days = new Set<number>()
  for (const part of text.split(',')) {
    const [from, to, extra] = part.split('-')
    if (from === undefined || extra !== undefined || from === '')
      throw errors.CONFIG_INVALID(`maintenance window "${spec}": cannot read the days "${text}"`)
    const first = parseDay(from, spec)
    const last = to === undefined ? first : parseDay(to, spec)
    for (let d = first; ; d = (d + 1) % 7) {
      days.add(d)
      if (d === last) break
    }
  }
  return [...days].sort((a, b) => a - b)
}

function parseMinute(text: string, spec: string): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text)
  const hours = Number(match?.[1])
  const minutes = Number(match?.[2])
  if (!match || minutes > 59 || hours > 24 || (hours === 24 && minutes > 0))
    throw errors.CONFIG_INVALID(`maintenance window "${spec}": "${text}" is not a time of day (HH:MM, UTC)`)
  return hours * 60 + minutes
}

/**
 * Parses `"Mon-Fri 01:00-05:00"` (UTC; days optional, meaning every day; a
 * window ending at or before its start runs past midnight). Throws
 * `CAIRN_ERR_CONFIG_INVALID` saying what is wrong.
 */
export function parseMaintenanceWindow(spec: string): MaintenanceWindow {
  const parts = spec.trim().split(/\s+/)
  if (parts.length === 0 || parts.length > 2 || parts[0] === '')
    throw errors.CONFIG_INVALID(
      `maintenance window "${spec}": expected "[days] HH:MM-HH:MM", e.g. "Mon-Fri 01:00-05:00"`,
    )
  const times = parts[parts.length - 1] as string
  const days = parts.length === 2 ? parseDays(parts[0] as string, spec) : [0, 1, 2, 3, 4, 5, 6]
  const [start, end, extra] = times.split('-')
  if (start === undefined || end === undefined || extra !== undefined)
    throw errors.CONFIG_INVALID(`maintenance window "${spec}": expected a time range HH:MM-HH:MM`)
  const startMinute = parseMinute(start, spec)
  const endMinute = parseMinute(end, spec)
  if (startMinute === minutesPerDay) throw errors.CONFIG_INVALID(`maintenance window "${spec}": cannot start at 24:00`)
  return { text: spec.trim(), days, startMinute, endMinute: endMinute === 0 ? minutesPerDay : endMinute }
}

/** Whether `at` falls inside the window (its start inclusive, its end exclusive). */
export function isWithinWindow(window: MaintenanceWindow, at: Date): boolean {
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes()
  const day = at.getUTCDay()
  if (window.endMinute > window.startMinute)
    return window.days.includes(day) && minute >= window.startMinute && minute < window.endMinute
  // Past midnight: the evening part on a listed day, or the morning part on the day after one.
  return (
    (window.days.includes(day) && minute >= window.startMinute) ||
    (window.days.includes((day + 6) % 7) && minute < window.endMinute)
  )
}
