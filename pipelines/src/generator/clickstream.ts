import { isoSeconds } from './calendar.js'
import type { Catalog } from './catalog.js'
import { categories } from './categories.js'
import type { CustomerBase } from './customer-base.js'
import type { Random } from './random.js'
import { CLICKSTREAM, type RawRecord } from './raw-record.js'
import type { Timeline } from './timeline.js'
import { WeightedIndex } from './weighted-index.js'

/** Accepted devices. */
export const devices = ['desktop', 'mobile', 'tablet'] as const
const webDevice = new WeightedIndex([0.58, 0.35, 0.07])
const appDevice = new WeightedIndex([0, 0.86, 0.14])
const browseDevice = new WeightedIndex([0.4, 0.52, 0.08])

const landingPages = [
  '/',
  '/deals',
  ...categories.map((c) => `/c/${c.name}`),
  ...categories.map((c) => `/search?q=${encodeURIComponent((c.nouns[0] as string).toLowerCase())}`),
]
const landingIndex = new WeightedIndex(
  landingPages.map((page) => (page === '/' ? 40 : page === '/deals' ? 10 : page.startsWith('/c/') ? 2.5 : 1.1)),
)
const productViewsIndex = new WeightedIndex([0.55, 0.3, 0.15])

/** Share of anonymous browse sessions (no customer_id); purchase sessions are always logged in. */
const anonymousShare = 0.6

const PAGE_VIEW = 0
const PRODUCT_VIEW = 1
const ADD_TO_CART = 2
const CHECKOUT = 3
const PURCHASE = 4
const eventTypes = ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'] as const
/** Seconds before an event of each type, drawn between these bounds. */
const gapMin = [5, 5, 10, 10, 20]
const gapMax = [60, 90, 120, 120, 180]

/**
 * Clickstream sessions. A purchase session ends with the `purchase` event of an order (same customer,
 * an add_to_cart of each of its products, at the order's time); browse sessions drop off along the
 * funnel page_view → product_view → add_to_cart → checkout and never purchase. Anonymous sessions have
 * customer_id null (an empty CSV cell); page_view, checkout and purchase events have product_id null.
 * `event_id` is assigned at emission (see the emitter), `session_id` here: `s` + a base-36 counter.
 */
export class Clickstream {
  private sessions = 0
  private steps = 0
  /** The steps of the session being built: type, product id (0: none), url, seconds before. */
  private readonly types: number[] = []
  private readonly productIds: number[] = []
  private readonly urls: string[] = []
  private readonly gaps: number[] = []
  private readonly productUrls: string[]

  constructor(
    private readonly catalog: Catalog,
    private readonly customers: CustomerBase,
    private readonly timeline: Timeline,
  ) {
    this.productUrls = catalog.products.map((p) => `/p/${p.id}`)
  }

  /** The session of a web or app order, ending at orderTs (never before dayStart). */
  purchaseSession(
    orderTs: number,
    dayStart: number,
    orderId: number,
    customerId: number,
    app: boolean,
    productIds: readonly number[],
    lines: number,
    random: Random,
  ): void {
    this.clear()
    if (random.chance(0.35)) this.step(PAGE_VIEW, 0, this.landing(random), random)
    for (let i = 0; i < lines; i++) {
      if (random.chance(0.1)) {
        const other = this.catalog.draw(random).id
        this.step(PRODUCT_VIEW, other, this.productUrl(other), random)
      }
      const id = productIds[i] as number
      const url = this.productUrl(id)
      this.step(PRODUCT_VIEW, id, url, random)
      this.step(ADD_TO_CART, id, url, random)
    }
    this.step(CHECKOUT, 0, '/checkout', random)
    this.step(PURCHASE, 0, `/checkout/confirmation/${orderId}`, random)
    const n = this.steps
    let span = 0
    for (let i = 1; i < n; i++) span += this.gaps[i] as number
    span *= 1000
    const scale = span > orderTs - dayStart ? (orderTs - dayStart) / span : 1
    let t = orderTs - Math.floor((span * scale) / 1000) * 1000
    const device = devices[(app ? appDevice : webDevice).draw(random)] as string
    const session = this.nextSession()
    for (let i = 0; i < n; i++) {
      if (i > 0) t = i === n - 1 ? orderTs : Math.min(orderTs, t + Math.floor((this.gaps[i] as number) * scale) * 1000)
      const product = this.productIds[i] as number
      this.event(t, session, customerId, this.types[i] as number, product, this.urls[i] as string, device)
    }
  }

  /** A browse session starting at `start`. */
  browseSession(start: number, random: Random): void {
    const device = devices[browseDevice.draw(random)] as string
    const customerId = random.chance(anonymousShare) ? 0 : this.customers.pickKnown(random)
    const session = this.nextSession()
    let t = start
    this.event(t, session, customerId, PAGE_VIEW, 0, this.landing(random), device)
    if (random.chance(0.2)) {
      t += random.intBetween(5, 60) * 1000
      this.event(t, session, customerId, PAGE_VIEW, 0, this.landing(random), device)
    }
    if (!random.chance(0.45)) return
    const views = productViewsIndex.draw(random) + 1
    let last = 0
    for (let v = 0; v < views; v++) {
      last = this.catalog.draw(random).id
      t += random.intBetween(5, 90) * 1000
      this.event(t, session, customerId, PRODUCT_VIEW, last, this.productUrl(last), device)
    }
    if (!random.chance(0.2)) return
    t += random.intBetween(10, 120) * 1000
    this.event(t, session, customerId, ADD_TO_CART, last, this.productUrl(last), device)
    if (!random.chance(0.3)) return
    t += random.intBetween(10, 120) * 1000
    this.event(t, session, customerId, CHECKOUT, 0, '/checkout', device)
  }

  private clear(): void {
    this.steps = 0
  }

  private step(type: number, productId: number, url: string, random: Random): void {
    const k = this.steps++
    this.types[k] = type
    this.productIds[k] = productId
    this.urls[k] = url
    this.gaps[k] = random.intBetween(gapMin[type] as number, gapMax[type] as number)
  }

  private productUrl(id: number): string {
    return this.productUrls[id - 1] as string
  }

  private landing(random: Random): string {
    return landingPages[landingIndex.draw(random)] as string
  }

  private nextSession(): string {
    return `s${(++this.sessions).toString(36)}`
  }

  private event(
    t: number,
    session: string,
    customerId: number,
    type: number,
    productId: number,
    url: string,
    device: string,
  ): void {
    const record: RawRecord = {
      event_id: '',
      session_id: session,
      customer_id: customerId === 0 ? null : customerId,
      event_type: eventTypes[type],
      product_id: productId === 0 ? null : productId,
      event_ts: isoSeconds(t),
      device,
      page_url: url,
    }
    this.timeline.schedule(t, CLICKSTREAM, record)
  }
}
