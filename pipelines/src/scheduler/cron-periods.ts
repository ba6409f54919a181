import { Cron } from 'croner'

/** A data interval, [from, to). */
export interface Interval {
  readonly from: Date
  readonly to: Date
}

/** Parses a cron expression (croner syntax) in UTC; throws croner's error for a bad one. */
export function parseSchedule(schedule: string): Cron {
  const cron = new Cron(schedule, { timezone: 'UTC', paused: true })
  if (cron.getPattern() === undefined) throw new TypeError(`"${schedule}" is a date, not a cron expression`)
  return cron
}

/** The period that ends at the fire time `end`: [the fire before it, end). */
export function periodEndingAt(cron: Cron, end: Date): Interval {
  const previous = cron.previousRuns(1, end)[0]
  if (!previous) throw new RangeError(`no cron time before ${end.toISOString()}`)
  return { from: previous, to: end }
}

/** The latest period that has completely ended at `now`. */
export function latestCompletePeriod(cron: Cron, now: Date): Interval {
  // previousRuns includes a fire earlier in the same second as the reference, so step back to the
  // latest fire at or before now first.
  const [end, from] = cron.previousRuns(2, new Date(now.getTime() + 1))
  if (!end || !from) throw new RangeError(`no complete cron period before ${now.toISOString()}`)
  return { from, to: end }
}

/** Every period [fire, next fire) lying entirely inside [from, to), in order. */
export function periodsBetween(cron: Cron, from: Date, to: Date, limit = 10_000): Interval[] {
  const periods: Interval[] = []
  // nextRun strips milliseconds and looks strictly after its reference, so a fire exactly at `from`
  // is found from just before it.
  let start = cron.nextRun(new Date(from.getTime() - 1))
  while (start && start.getTime() < to.getTime()) {
    const end = cron.nextRun(start)
    if (!end || end.getTime() > to.getTime()) break
    if (periods.length >= limit)
      throw new RangeError(`more than ${limit} periods between ${from.toISOString()} and ${to.toISOString()}`)
    periods.push({ from: start, to: end })
    start = end
  }
  return periods
}
