import { isoSeconds } from './calendar.js'
import type { Random } from './random.js'
import { ORDERS, type RawRecord } from './raw-record.js'
import type { DirtDecision, Timeline } from './timeline.js'

/** Accepted order statuses; an order version is scheduled as its header with variant = index + 1. */
export const orderStatuses = ['placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'] as const
export const PLACED = 0
export const PAID = 1
export const SHIPPED = 2
export const DELIVERED = 3
export const CANCELLED = 4
export const RETURNED = 5

/**
 * The order version of variant `variant` (status index + 1) at updatedMs, from the order's header
 * (the fields every version shares).
 */
export function orderVersion(header: RawRecord, variant: number, updatedMs: number): RawRecord {
  return {
    order_id: header.order_id,
    customer_id: header.customer_id,
    order_ts: header.order_ts,
    status: orderStatuses[variant - 1],
    channel: header.channel,
    country: header.country,
    currency: header.currency,
    total_amount: header.total_amount,
    updated_at: variant === 1 ? header.order_ts : isoSeconds(updatedMs),
  }
}

/**
 * The status timeline of the order being created (placed, then paid, shipped, …, each at a later
 * time), scheduled as versions of the order. Reused from order to order.
 */
export class OrderVersions {
  private count = 0
  private readonly status: number[] = []
  private readonly at: number[] = []
  private readonly keys: number[] = []
  private readonly dirt: DirtDecision[] = []
  private readonly order: number[] = []

  constructor(
    private readonly timeline: Timeline,
    private readonly dirtRandom: Random,
    private readonly outOfOrderRate: number,
  ) {}

  /** Starts the timeline of a new order, placed at orderTs. */
  start(orderTs: number): void {
    this.count = 0
    this.add(PLACED, orderTs)
  }

  /** The order reaches `status` at `at` (later than the previous status). */
  add(status: number, at: number): void {
    this.status[this.count] = status
    this.at[this.count] = at
    this.count++
  }

  /**
   * Schedules the versions inside the timeline as the shared header, completed at emission by
   * {@link orderVersion}; the last one is marked final. Out-of-order updates are decided here: a
   * version (not the last, not an orphan's placed version) is emitted 1 ms after the next one, which
   * is then kept clean.
   */
  schedule(header: RawRecord, orphan: boolean): void {
    const end = this.timeline.endMs
    let n = 0
    while (n < this.count && (this.at[n] as number) < end) n++
    const keys = this.keys
    const dirt = this.dirt
    for (let i = 0; i < n; i++) {
      keys[i] = this.at[i] as number
      dirt[i] = 'draw'
    }
    if (orphan) dirt[0] = 'orphan'
    for (let i = n - 2; i >= 0; i--) {
      if (dirt[i] !== 'draw' || !this.dirtRandom.chance(this.outOfOrderRate)) continue
      dirt[i] = 'out_of_order_update'
      keys[i] = (keys[i + 1] as number) + 1
      if (dirt[i + 1] === 'draw') dirt[i + 1] = 'clean'
    }
    // Scheduled by emission key: an out-of-order version is scheduled after the version it trails
    // (the timeline keeps scheduling order within a second).
    const order = this.order
    for (let i = 0; i < n; i++) {
      let j = i
      while (j > 0 && (keys[order[j - 1] as number] as number) > (keys[i] as number)) {
        order[j] = order[j - 1] as number
        j--
      }
      order[j] = i
    }
    for (let k = 0; k < n; k++) {
      const i = order[k] as number
      const variant = (this.status[i] as number) + 1
      const final = i === n - 1
      if (dirt[i] === 'out_of_order_update') {
        // Emitted at another time than its own: built now, with its own updated_at.
        const record = orderVersion(header, variant, this.at[i] as number)
        this.timeline.schedule(keys[i] as number, ORDERS, record, 'out_of_order_update', final)
      } else {
        this.timeline.scheduleVariant(keys[i] as number, ORDERS, header, variant, dirt[i] as DirtDecision, final)
      }
    }
  }
}
