import type { Random } from './random.js'
import { WeightedIndex } from './weighted-index.js'

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000
/** Milliseconds in an hour. */
export const HOUR_MS = 3_600_000
/** Milliseconds in a minute. */
export const MINUTE_MS = 60_000

/** UTC midnight of a `YYYY-MM-DD` date, in ms. */
export function utcMidnight(date: string): number {
  const ms = Date.parse(`${date}T00:00:00Z`)
  if (Number.isNaN(ms)) throw new Error(`not a date: ${date}`)
  return ms
}

const twoDigits = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'))
/** `HH:MM:SSZ` of every second of a day, built on first use. */
let clockTimes: string[] | undefined
/** `YYYY-MM-DDT` per day number since the epoch. */
const datePrefixes = new Map<number, string>()
let lastDay = Number.NaN
let lastPrefix = ''

function clock(): string[] {
  if (clockTimes) return clockTimes
  const times = new Array<string>(86_400)
  for (let s = 0; s < 86_400; s++) {
    times[s] = `${twoDigits[Math.floor(s / 3600)]}:${twoDigits[Math.floor(s / 60) % 60]}:${twoDigits[s % 60]}Z`
  }
  clockTimes = times
  return times
}

/**
 * ISO 8601 in UTC with second precision: `2025-03-04T12:34:56Z` (ms below a second are dropped).
 * Several times faster than Date#toISOString and a single string allocation: the date prefixes and
 * the times of day are cached.
 */
export function isoSeconds(ms: number): string {
  const day = Math.floor(ms / DAY_MS)
  if (day !== lastDay) {
    let prefix = datePrefixes.get(day)
    if (prefix === undefined) {
      prefix = new Date(day * DAY_MS).toISOString().slice(0, 11)
      if (datePrefixes.size >= 20_000) datePrefixes.clear()
      datePrefixes.set(day, prefix)
    }
    lastDay = day
    lastPrefix = prefix
  }
  return lastPrefix + (clock()[Math.floor((ms - day * DAY_MS) / 1000)] as string)
}

/** ms rounded down to a whole second. */
export function wholeSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}

/**
 * Order volume by month (January first): a summer dip and the November/December peak of retail.
 * Special days come on top (see {@link specialDayFactor}).
 */
const monthFactors = [0.9, 0.82, 0.92, 0.95, 0.97, 0.88, 0.84, 0.86, 0.95, 1.0, 1.3, 1.45]

/**
 * Order volume by weekday (Sunday first): online retail peaks on Sunday and Monday evenings and dips
 * on Friday and Saturday.
 */
const weekdayFactors = [1.12, 1.08, 1.0, 0.98, 0.96, 0.9, 0.92]

/** Growth of the shop: +12% volume per year over the timeline. */
const yearlyGrowth = 0.12

/** Black Friday, the day after the fourth Thursday of November, as ms of its UTC midnight. */
function blackFriday(year: number): number {
  const first = new Date(Date.UTC(year, 10, 1))
  const firstThursday = 1 + ((4 - first.getUTCDay() + 7) % 7)
  return Date.UTC(year, 10, firstThursday + 22)
}

/** Extra volume on special days: Black Friday weekend, Cyber Monday, Christmas, New Year. */
function specialDayFactor(ms: number): number {
  const date = new Date(ms)
  const month = date.getUTCMonth()
  const day = date.getUTCDate()
  if (month === 10 || (month === 11 && day <= 2)) {
    const offset = Math.round((ms - blackFriday(date.getUTCFullYear())) / DAY_MS)
    if (offset === 0) return 2.6
    if (offset === 1 || offset === 2) return 1.5
    if (offset === 3) return 2.1
    if (offset >= -6 && offset < 0) return 1.15
  }
  if (month === 11) {
    if (day === 24) return 0.6
    if (day === 25) return 0.45
    if (day === 26) return 1.2
    if (day >= 27) return 0.85
  }
  if (month === 0 && day === 1) return 0.6
  return 1
}

/**
 * The relative order volume of each day: month × weekday × special day × growth × ±8% noise.
 * Allocating the orders by these weights gives the seasonality of the output.
 */
export function dayWeights(startMs: number, days: number, random: Random): Float64Array {
  const weights = new Float64Array(days)
  for (let d = 0; d < days; d++) {
    const ms = startMs + d * DAY_MS
    const date = new Date(ms)
    weights[d] =
      (monthFactors[date.getUTCMonth()] as number) *
      (weekdayFactors[date.getUTCDay()] as number) *
      specialDayFactor(ms) *
      (1 + (yearlyGrowth * d) / 365) *
      random.between(0.92, 1.08)
  }
  return weights
}

/** Splits total into integer counts proportional to the weights (largest remainder; ties by index). */
export function allocate(total: number, weights: Float64Array): Int32Array {
  const counts = new Int32Array(weights.length)
  const sum = weights.reduce((a, b) => a + b, 0)
  const remainders: { index: number; rest: number }[] = []
  let given = 0
  for (let i = 0; i < weights.length; i++) {
    const exact = (total * (weights[i] as number)) / sum
    const whole = Math.floor(exact)
    counts[i] = whole
    given += whole
    remainders.push({ index: i, rest: exact - whole })
  }
  remainders.sort((a, b) => b.rest - a.rest || a.index - b.index)
  for (let k = 0; k < total - given; k++) {
    const r = remainders[k % remainders.length] as { index: number }
    counts[r.index] = (counts[r.index] as number) + 1
  }
  return counts
}

/**
 * Activity by hour of the day (UTC, read as the shop's local time): quiet at night, busy from late
 * morning, peaking 19:00–21:00.
 */
const hourWeights = [
  0.9, 0.6, 0.4, 0.3, 0.3, 0.35, 0.5, 0.8, 1.1, 1.3, 1.4, 1.45, 1.5, 1.45, 1.4, 1.4, 1.45, 1.55, 1.7, 1.9, 2.0, 1.9,
  1.6, 1.2,
]

/** Draws a time of day (ms since midnight, whole seconds) with the intra-day pattern. */
export class TimeOfDay {
  private readonly hours = new WeightedIndex(hourWeights)

  draw(random: Random): number {
    return this.hours.draw(random) * HOUR_MS + random.int(3600) * 1000
  }
}

/** Sorted times of a day's events (orders, sessions), in a reused buffer. */
export class DayTimes {
  private buffer = new Float64Array(0)

  constructor(private readonly timeOfDay: TimeOfDay) {}

  /** `count` times on the day starting at dayStart, ascending; valid until the next call. */
  draw(count: number, dayStart: number, random: Random): Float64Array {
    if (this.buffer.length < count) this.buffer = new Float64Array(count * 2)
    const times = this.buffer.subarray(0, count)
    for (let i = 0; i < count; i++) times[i] = dayStart + this.timeOfDay.draw(random)
    return times.sort()
  }
}
