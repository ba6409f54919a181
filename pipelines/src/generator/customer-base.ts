import { isoSeconds, MINUTE_MS, type TimeOfDay } from './calendar.js'
import { FenwickSampler } from './fenwick-sampler.js'
import { formatPhone } from './markets.js'
import type { CountryPool, Pools } from './pools.js'
import type { Random } from './random.js'
import { CUSTOMERS, type RawRecord } from './raw-record.js'
import type { Timeline } from './timeline.js'
import { WeightedIndex } from './weighted-index.js'

/** Accepted customer segments. */
export const segments = ['consumer', 'business', 'vip'] as const
const segmentIndex = new WeightedIndex([0.86, 0.11, 0.03])

const emailDomains = ['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com', 'hotmail.com', 'proton.me', 'aol.com']
const emailDomainIndex = new WeightedIndex([45, 18, 12, 10, 8, 4, 3])

/** A customer's weight for repeat purchases is 1 + their orders, up to this many orders. */
const repeatWeightCap = 40
/** Updates per customer and year. */
const updatesPerYear = 0.2
/** Kinds of customer update and their shares: move within the country, move abroad, segment, phone, name. */
const updateKindIndex = new WeightedIndex([45, 8, 12, 20, 15])

const ACTIVE = 1
const WAITING = 2

/**
 * Every customer as a few typed-array slots (about 60 bytes each, nothing else is kept), the choice of
 * the customer of each order, and the customers' updates.
 *
 * Repeat purchases follow preferential attachment: a returning customer is drawn with weight
 * 1 + orders so far (capped at 40), so a few customers order often and most order once or twice (a
 * power-law tail). The share of orders by new customers starts at 90% and settles so that exactly
 * min(customers, orders) customers place orders.
 */
export class CustomerBase {
  private created = 0
  private createdBeforeToday = 0
  private readonly base: number
  private readonly decay: number
  private readonly state: Uint8Array
  private readonly origin: Uint8Array
  private readonly country: Uint8Array
  private readonly previousCountry: Uint8Array
  private readonly movedMs: Float64Array
  private readonly city: Uint16Array
  private readonly first: Uint16Array
  private readonly last: Uint16Array
  private readonly emailLast: Uint16Array
  private readonly emailStyle: Uint8Array
  private readonly segment: Uint8Array
  private readonly phone: Float64Array
  private readonly signupMs: Float64Array
  private readonly updatedMs: Float64Array
  private readonly orderCount: Uint16Array
  private readonly weights: FenwickSampler

  constructor(
    private readonly capacity: number,
    private readonly totalOrders: number,
    private readonly pools: Pools,
  ) {
    const n = capacity + 1
    this.state = new Uint8Array(n)
    this.origin = new Uint8Array(n)
    this.country = new Uint8Array(n)
    this.previousCountry = new Uint8Array(n)
    this.movedMs = new Float64Array(n)
    this.city = new Uint16Array(n)
    this.first = new Uint16Array(n)
    this.last = new Uint16Array(n)
    this.emailLast = new Uint16Array(n)
    this.emailStyle = new Uint8Array(n)
    this.segment = new Uint8Array(n)
    this.phone = new Float64Array(n)
    this.signupMs = new Float64Array(n)
    this.updatedMs = new Float64Array(n)
    this.orderCount = new Uint16Array(n)
    this.weights = new FenwickSampler(capacity)
    this.base = Math.min(0.9, Math.max(0, (capacity / totalOrders - 0.045) / 0.95))
    this.decay = Math.max(1, totalOrders * 0.05)
  }

  /** Customers created so far (the highest customer_id). */
  get count(): number {
    return this.created
  }

  /** True once a customer can place repeat orders (one is emitted and not waiting). */
  get hasActive(): boolean {
    return this.weights.total > 0
  }

  /** Marks the start of a day: customers created from now on are not updated today. */
  beginDay(): void {
    this.createdBeforeToday = this.created
  }

  /** The customer of the orderIndex-th order (0-based): an existing id, or 0 for a new customer. */
  choose(orderIndex: number, random: Random): number {
    const remainingNew = this.capacity - this.created
    if (remainingNew <= 0) return this.weights.total > 0 ? this.weights.draw(random) : 1 + random.int(this.created)
    if (remainingNew >= this.totalOrders - orderIndex || this.weights.total <= 0) return 0
    const pNew = this.base + (0.9 - this.base) * Math.exp(-orderIndex / this.decay)
    return random.chance(pNew) ? 0 : this.weights.draw(random)
  }

  /**
   * Creates the next customer (signed up at signupMs, with one order). A waiting customer (an orphan's)
   * places no other order and gets no update until {@link activate}.
   */
  create(signupMs: number, waiting: boolean, random: Random): number {
    const id = ++this.created
    const country = this.pools.countryIndex.draw(random)
    const pool = this.pools.countries[country] as CountryPool
    this.state[id] = waiting ? WAITING : ACTIVE
    this.origin[id] = country
    this.country[id] = country
    this.previousCountry[id] = country
    this.city[id] = pool.cityIndex.draw(random)
    this.first[id] = random.int(pool.firstNames.length)
    const last = random.int(pool.lastNames.length)
    this.last[id] = last
    this.emailLast[id] = last
    this.emailStyle[id] = emailDomainIndex.draw(random) * 4 + random.int(4)
    this.segment[id] = segmentIndex.draw(random)
    this.phone[id] = random.int(1e10)
    this.signupMs[id] = signupMs
    this.updatedMs[id] = signupMs
    this.orderCount[id] = 1
    if (!waiting) this.weights.add(id, 2)
    return id
  }

  /** Makes a waiting customer available for orders and updates (once their record is emitted). */
  activate(id: number): void {
    if (this.state[id] !== WAITING) return
    this.state[id] = ACTIVE
    this.weights.add(id, 1 + Math.min(this.orderCount[id] as number, repeatWeightCap))
  }

  /** Counts another order of an existing customer. */
  noteOrder(id: number): void {
    const orders = this.orderCount[id] as number
    if (orders < 65535) this.orderCount[id] = orders + 1
    if (orders < repeatWeightCap && this.state[id] === ACTIVE) this.weights.add(id, 1)
  }

  /** A known customer for a browse session, drawn like a returning buyer; 0 when there is none. */
  pickKnown(random: Random): number {
    return this.weights.draw(random)
  }

  /** The index (in pools.countries) of the customer's country at time t. */
  countryAt(id: number, t: number): number {
    return (t < (this.movedMs[id] as number) ? this.previousCountry[id] : this.country[id]) as number
  }

  /** The customer's current version as a raw record. */
  record(id: number): RawRecord {
    const origin = this.pools.countries[this.origin[id] as number] as CountryPool
    const here = this.pools.countries[this.country[id] as number] as CountryPool
    const first = this.first[id] as number
    const emailFirst = origin.emailFirstNames[first] as string
    const emailLast = origin.emailLastNames[this.emailLast[id] as number] as string
    const style = this.emailStyle[id] as number
    const local =
      style % 4 === 0
        ? `${emailFirst}.${emailLast}${id}`
        : style % 4 === 1
          ? `${emailFirst}${emailLast}${id}`
          : style % 4 === 2
            ? `${emailFirst[0]}.${emailLast}${id}`
            : `${emailLast}.${emailFirst}${id}`
    return {
      customer_id: id,
      email: `${local}@${emailDomains[style >> 2]}`,
      first_name: origin.firstNames[first],
      last_name: origin.lastNames[this.last[id] as number],
      phone: formatPhone(here.market.phone, this.phone[id] as number),
      country: here.market.country,
      city: here.cities[this.city[id] as number],
      segment: segments[this.segment[id] as number],
      signup_ts: isoSeconds(this.signupMs[id] as number),
      updated_at: isoSeconds(this.updatedMs[id] as number),
    }
  }

  /**
   * Draws the day's customer updates (at most one per customer and day, only customers created before
   * today) and schedules the new versions: a move within the country or abroad, a segment change
   * (tracked history), a phone or last-name change (corrections). With probability `outOfOrderRate` an
   * update is followed minutes later by a phone correction and the earlier version is emitted after the
   * later one (`out_of_order_update`).
   */
  scheduleUpdates(
    dayStart: number,
    timeOfDay: TimeOfDay,
    random: Random,
    dirtRandom: Random,
    outOfOrderRate: number,
    timeline: Timeline,
  ): void {
    const known = this.createdBeforeToday
    if (known === 0) return
    const n = random.round((known * updatesPerYear) / 365)
    for (let k = 0; k < n; k++) {
      const id = 1 + random.int(known)
      const t = Math.max(dayStart + timeOfDay.draw(random), (this.updatedMs[id] as number) + 1000)
      const kind = updateKindIndex.draw(random)
      const pair = dirtRandom.chance(outOfOrderRate)
      const t2 = t + random.intBetween(1, 30) * MINUTE_MS
      const skip =
        this.state[id] !== ACTIVE ||
        (this.updatedMs[id] as number) >= dayStart ||
        t >= timeline.endMs ||
        (pair && t2 >= timeline.endMs)
      const newCity = random.next()
      const other = random.int(this.pools.countries.length - 1)
      const newValue = random.int(1e10)
      if (skip) continue
      this.applyUpdate(id, kind, t, newCity, other, newValue)
      this.updatedMs[id] = t
      const first = this.record(id)
      if (!pair) {
        timeline.schedule(t, CUSTOMERS, first)
        continue
      }
      this.phone[id] = random.int(1e10)
      this.updatedMs[id] = t2
      timeline.schedule(t2, CUSTOMERS, this.record(id), 'clean')
      timeline.schedule(t2 + 1, CUSTOMERS, first, 'out_of_order_update')
    }
  }

  private applyUpdate(id: number, kind: number, t: number, u: number, other: number, value: number): void {
    const pool = this.pools.countries[this.country[id] as number] as CountryPool
    switch (kind) {
      case 0: {
        const cities = pool.cities.length
        this.city[id] = ((this.city[id] as number) + 1 + Math.floor(u * (cities - 1))) % cities
        return
      }
      case 1: {
        const countries = this.pools.countries.length
        const to = ((this.country[id] as number) + 1 + other) % countries
        const target = this.pools.countries[to] as CountryPool
        this.previousCountry[id] = this.country[id] as number
        this.movedMs[id] = t
        this.country[id] = to
        this.city[id] = Math.floor(u * target.cities.length)
        return
      }
      case 2:
        this.segment[id] = ((this.segment[id] as number) + 1 + (value % 2)) % segments.length
        return
      case 3:
        this.phone[id] = value
        return
      default: {
        const origin = this.pools.countries[this.origin[id] as number] as CountryPool
        this.last[id] = value % origin.lastNames.length
      }
    }
  }
}
