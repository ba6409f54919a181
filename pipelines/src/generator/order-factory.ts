import { DAY_MS, HOUR_MS, isoSeconds, type TimeOfDay } from './calendar.js'
import type { Catalog, Product } from './catalog.js'
import { categories } from './categories.js'
import type { Clickstream } from './clickstream.js'
import type { CustomerBase } from './customer-base.js'
import { markets, usdTo } from './markets.js'
import { CANCELLED, DELIVERED, OrderVersions, PAID, RETURNED, SHIPPED } from './order-versions.js'
import type { Pools } from './pools.js'
import type { Random } from './random.js'
import { CUSTOMERS, ORDER_ITEMS, PAYMENTS, type RawRecord, RETURNS } from './raw-record.js'
import type { Timeline } from './timeline.js'
import { WeightedIndex } from './weighted-index.js'

/** Accepted channels. */
export const channels = ['web', 'mobile_app', 'marketplace', 'store'] as const
const channelIndex = new WeightedIndex([0.5, 0.3, 0.14, 0.06])
const lineCountIndex = new WeightedIndex([0.46, 0.27, 0.15, 0.08, 0.04])
const quantityIndex = new WeightedIndex([0.78, 0.14, 0.05, 0.02, 0.01])

/** Accepted payment methods. */
export const paymentMethods = ['card', 'paypal', 'bank_transfer', 'gift_card'] as const
const methodIndexByMarket = markets.map(
  (m) => new WeightedIndex([0.66 - m.bankTransfer, 0.28, 0.02 + m.bankTransfer, 0.04]),
)
const storeMethodIndex = new WeightedIndex([0.88, 0, 0, 0.12])

const returnReasons = ['damaged', 'wrong_size', 'not_as_described', 'changed_mind', 'defective', 'late_delivery']
const apparelReasonIndex = new WeightedIndex([0.08, 0.38, 0.14, 0.26, 0.08, 0.06])
const otherReasonIndex = new WeightedIndex([0.22, 0.01, 0.2, 0.3, 0.21, 0.06])

/** Share of lines with a discount (5–30% of the line). */
const discountShare = 0.15
/** A first payment attempt fails this often; the retry fails this often (the order is then cancelled). */
const firstAttemptFails = 0.06
const retryFails = 0.3
/** Paid orders cancelled before shipping (refunded in full). */
const cancelAfterPayment = 0.025

/** Parameters of orders that come from the run, not from the catalog or the customers. */
export interface OrderRun {
  /** Rates of the dirt kinds decided when an order is created. */
  readonly outOfOrderRate: number
  readonly orphanRate: number
  readonly partDays: number
  readonly startMs: number
}

/**
 * Creates an order and everything that follows from it: its customer (when new), its lines, the
 * purchase session, payment attempts, the status updates placed → paid → shipped → delivered (or
 * cancelled, returned) as later versions, returns of some lines and refunds. Everything is scheduled
 * in the timeline at its own time; what falls after the end of the timeline is dropped.
 *
 * Amounts are computed in cents: total_amount = Σ quantity × unit_price − discount over the lines; the
 * captured payment equals the total; a refund equals the returned lines' share of their amounts.
 */
export class OrderFactory {
  private orders = 0
  // The order being created: its lines, its status versions, its payment method and currency.
  private readonly products: Product[] = []
  private readonly productIds: number[] = []
  private readonly quantities: number[] = []
  private readonly nets: number[] = []
  private readonly versions: OrderVersions
  private orderId = 0
  private currency = ''
  private method = ''

  constructor(
    private readonly run: OrderRun,
    private readonly pools: Pools,
    private readonly catalog: Catalog,
    private readonly customers: CustomerBase,
    private readonly clickstream: Clickstream,
    private readonly timeline: Timeline,
    private readonly timeOfDay: TimeOfDay,
    private readonly random: Random,
    private readonly dirtRandom: Random,
  ) {
    this.versions = new OrderVersions(timeline, dirtRandom, run.outOfOrderRate)
  }

  /** Creates the orderIndex-th order (0-based), placed at orderTs on day `day`. */
  create(orderTs: number, orderIndex: number, day: number, dayStart: number): void {
    const random = this.random
    const timeline = this.timeline
    let customerId = this.customers.choose(orderIndex, random)
    let orphan = false
    if (customerId === 0) {
      const signup = Math.max(dayStart, orderTs - random.intBetween(20, 2400) * 1000)
      const nextPartDay = (Math.floor(day / this.run.partDays) + 1) * this.run.partDays
      // Not before some customer is active: repeat orders must always find an emitted customer.
      orphan = nextPartDay < timeline.days && this.customers.hasActive && this.dirtRandom.chance(this.run.orphanRate)
      customerId = this.customers.create(signup, orphan, random)
      if (orphan) {
        const releaseDay = nextPartDay + this.dirtRandom.int(Math.min(this.run.partDays, timeline.days - nextPartDay))
        const at = this.run.startMs + releaseDay * DAY_MS + this.timeOfDay.draw(this.dirtRandom)
        timeline.schedule(at, CUSTOMERS, this.customers.record(customerId), 'clean')
      } else {
        timeline.schedule(signup, CUSTOMERS, this.customers.record(customerId))
      }
    } else {
      this.customers.noteOrder(customerId)
    }

    const country = this.customers.countryAt(customerId, orderTs)
    const market = this.pools.countries[country]?.market ?? (markets[0] as (typeof markets)[number])
    const currency = market.currency
    const fx = usdTo[currency]
    const channel = channels[channelIndex.draw(random)] as string
    const orderId = ++this.orders
    const ts = isoSeconds(orderTs)
    this.orderId = orderId
    this.currency = currency

    const lineCount = lineCountIndex.draw(random) + 1
    const products = this.products
    const quantities = this.quantities
    const nets = this.nets
    let totalCents = 0
    let returnRate = 0
    for (let line = 1; line <= lineCount; line++) {
      let product = this.catalog.draw(random)
      for (let retry = 0; retry < 3 && this.hasProduct(product, line - 1); retry++) product = this.catalog.draw(random)
      const quantity = quantityIndex.draw(random) + 1
      const unitCents = Math.round(this.catalog.priceAt(product, orderTs) * fx)
      const discountCents = random.chance(discountShare)
        ? Math.round(quantity * unitCents * random.between(0.05, 0.3))
        : 0
      const net = quantity * unitCents - discountCents
      products[line - 1] = product
      this.productIds[line - 1] = product.id
      quantities[line - 1] = quantity
      nets[line - 1] = net
      totalCents += net
      returnRate = Math.max(returnRate, (categories[product.category] as (typeof categories)[number]).returnRate)
      timeline.schedule(orderTs, ORDER_ITEMS, {
        order_id: orderId,
        line_no: line,
        product_id: product.id,
        quantity,
        unit_price: unitCents / 100,
        discount: discountCents / 100,
        updated_at: ts,
      })
    }
    const total = totalCents / 100
    const header: RawRecord = {
      order_id: orderId,
      customer_id: customerId,
      order_ts: ts,
      channel,
      country: market.country,
      currency,
      total_amount: total,
    }

    if (channel === 'web' || channel === 'mobile_app') {
      this.clickstream.purchaseSession(
        orderTs,
        dayStart,
        orderId,
        customerId,
        channel === 'mobile_app',
        this.productIds,
        lineCount,
        random,
      )
    }

    // Payment attempts and the status timeline.
    const versions = this.versions
    versions.start(orderTs)
    const methodIndex = channel === 'store' ? storeMethodIndex : (methodIndexByMarket[country] as WeightedIndex)
    this.method = paymentMethods[methodIndex.draw(random)] as string
    let attemptAt =
      orderTs + (this.method === 'bank_transfer' ? random.intBetween(3600, 36 * 3600) : random.intBetween(3, 90)) * 1000
    if (random.chance(firstAttemptFails)) {
      this.payment(attemptAt, total, 'failed')
      attemptAt += random.intBetween(60, 900) * 1000
      if (random.chance(0.4)) this.method = paymentMethods[methodIndex.draw(random)] as string
      if (random.chance(retryFails)) {
        this.payment(attemptAt, total, 'failed')
        versions.add(CANCELLED, attemptAt + random.intBetween(600, 3 * 3600) * 1000)
        versions.schedule(header, orphan)
        return
      }
    }
    this.payment(attemptAt, total, 'captured')
    const paidAt = attemptAt + random.intBetween(1, 5) * 1000
    versions.add(PAID, paidAt)
    if (random.chance(cancelAfterPayment)) {
      const cancelledAt = paidAt + random.intBetween(15 * 60, 20 * 3600) * 1000
      versions.add(CANCELLED, cancelledAt)
      this.payment(cancelledAt + random.intBetween(3600, 36 * 3600) * 1000, total, 'refunded')
      versions.schedule(header, orphan)
      return
    }
    let deliveredAt: number
    if (channel === 'store') {
      deliveredAt = paidAt + random.intBetween(30, 300) * 1000
    } else {
      const shippedAt = paidAt + random.intBetween(3 * 3600, 60 * 3600) * 1000
      versions.add(SHIPPED, shippedAt)
      deliveredAt = shippedAt + random.intBetween(20 * 3600, 6 * 24 * 3600) * 1000
    }
    versions.add(DELIVERED, deliveredAt)

    if (random.chance(returnRate * 0.6)) {
      const returnedAt = deliveredAt + random.intBetween(1, 28) * DAY_MS + random.int(3600) * 1000
      const chosen = random.int(lineCount)
      let refundCents = 0
      let lastAt = returnedAt
      for (let i = 0; i < lineCount; i++) {
        if (i !== chosen && !random.chance(0.35)) continue
        const product = products[i] as Product
        const quantity = quantities[i] as number
        const returned = quantity === 1 ? 1 : random.intBetween(1, quantity)
        const refund = Math.round(((nets[i] as number) * returned) / quantity)
        const category = categories[product.category]?.name
        refundCents += refund
        lastAt = returnedAt + i * 1000
        const iso = isoSeconds(lastAt)
        timeline.schedule(lastAt, RETURNS, {
          return_id: 0,
          order_id: orderId,
          line_no: i + 1,
          product_id: product.id,
          quantity: returned,
          reason:
            returnReasons[
              (category === 'fashion' || category === 'shoes' ? apparelReasonIndex : otherReasonIndex).draw(random)
            ],
          refund_amount: refund / 100,
          returned_at: iso,
          updated_at: iso,
        })
      }
      versions.add(RETURNED, lastAt + random.intBetween(60, 2 * 3600) * 1000)
      this.payment(returnedAt + random.intBetween(HOUR_MS / 1000, 5 * 24 * 3600) * 1000, refundCents / 100, 'refunded')
    }
    versions.schedule(header, orphan)
  }

  private hasProduct(product: Product, lines: number): boolean {
    for (let i = 0; i < lines; i++) if (this.products[i] === product) return true
    return false
  }

  private payment(at: number, amount: number, status: string): void {
    const iso = isoSeconds(at)
    this.timeline.schedule(at, PAYMENTS, {
      payment_id: 0,
      order_id: this.orderId,
      method: this.method,
      amount,
      currency: this.currency,
      paid_at: iso,
      status,
      updated_at: iso,
    })
  }
}
