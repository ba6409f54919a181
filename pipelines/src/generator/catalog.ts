import { DAY_MS, isoSeconds, MINUTE_MS, type TimeOfDay, wholeSecond } from './calendar.js'
import { categories } from './categories.js'
import type { Pools } from './pools.js'
import type { Random } from './random.js'
import { PRODUCTS, type RawRecord } from './raw-record.js'
import type { Timeline } from './timeline.js'
import { WeightedIndex, zipfWeights } from './weighted-index.js'

/** One product and its current version. */
export interface Product {
  readonly id: number
  readonly sku: string
  readonly name: string
  readonly brand: string
  category: number
  /** Current list price in USD cents. */
  priceCents: number
  /** `updated_at` of the current version, ms. */
  updatedMs: number
  /** When the price last changed (ms) and the price before: orders placed earlier that day pay it. */
  changedMs: number
  previousPriceCents: number
}

/** Price changes per product and year (doubled in November, the promotion season). */
const changesPerYear = 2.5
/** Share of price changes that also move the product to another category. */
const recategorise = 0.03

/** A charm price in cents: x.99 (0.99 at least). */
function charmCents(usd: number): number {
  return Math.max(1, Math.floor(usd)) * 100 - 1
}

/**
 * The product catalog: every product with its current price and category, a Zipf–Mandelbrot
 * popularity (exponent 1.05, offset 4) over a shuffled ranking (best sellers, a long tail) and the
 * price changes of each day.
 */
export class Catalog {
  readonly products: Product[] = []
  private readonly popularity: WeightedIndex
  private readonly rankToIndex: Int32Array
  private readonly categoryIndex = new WeightedIndex(categories.map((c) => c.weight))

  constructor(count: number, pools: Pools, random: Random, startMs: number) {
    for (let id = 1; id <= count; id++) {
      const category = this.categoryIndex.draw(random)
      const c = categories[category] ?? (categories[0] as (typeof categories)[number])
      const u = (random.next() + random.next()) / 2
      const priceCents = charmCents(Math.exp(Math.log(c.minPrice) + u * (Math.log(c.maxPrice) - Math.log(c.minPrice))))
      const model =
        c.name === 'electronics' || c.name === 'computers'
          ? ` ${String.fromCharCode(65 + random.int(26))}${random.intBetween(10, 999)}`
          : ''
      this.products.push({
        id,
        sku: `${c.code}-${String(id).padStart(6, '0')}`,
        name: `${random.pick(pools.adjectives)} ${random.pick(c.nouns)}${model}`,
        brand: random.pick(pools.brands),
        category,
        priceCents,
        updatedMs: wholeSecond(startMs - random.between(1, 730) * DAY_MS),
        changedMs: 0,
        previousPriceCents: priceCents,
      })
    }
    this.popularity = new WeightedIndex(zipfWeights(count, 1.05, 4))
    this.rankToIndex = new Int32Array(count)
    for (let i = 0; i < count; i++) this.rankToIndex[i] = i
    for (let i = count - 1; i > 0; i--) {
      const j = random.int(i + 1)
      const t = this.rankToIndex[i] as number
      this.rankToIndex[i] = this.rankToIndex[j] as number
      this.rankToIndex[j] = t
    }
  }

  /** A product drawn by popularity. */
  draw(random: Random): Product {
    return this.products[this.rankToIndex[this.popularity.draw(random)] as number] as Product
  }

  /** A product drawn uniformly. */
  any(random: Random): Product {
    return this.products[random.int(this.products.length)] as Product
  }

  /** The list price in USD cents at time t (t on the day of the last change or later). */
  priceAt(product: Product, t: number): number {
    return t < product.changedMs ? product.previousPriceCents : product.priceCents
  }

  /** The product's current version as a raw record. */
  record(p: Product): RawRecord {
    return {
      product_id: p.id,
      sku: p.sku,
      name: p.name,
      category: (categories[p.category] as (typeof categories)[number]).name,
      brand: p.brand,
      price: p.priceCents / 100,
      currency: 'USD',
      updated_at: isoSeconds(p.updatedMs),
    }
  }

  /**
   * Draws the day's price changes (at most one per product and day) and schedules the new versions.
   * With probability `outOfOrderRate` a change comes as a pair: the price change, then minutes later a
   * re-categorisation; the earlier version is emitted after the later one (`out_of_order_update`).
   */
  scheduleChanges(
    dayStart: number,
    timeOfDay: TimeOfDay,
    random: Random,
    dirtRandom: Random,
    outOfOrderRate: number,
    timeline: Timeline,
  ): void {
    const month = new Date(dayStart).getUTCMonth()
    const expected = (this.products.length * changesPerYear * (month === 10 ? 2 : 1)) / 365
    const n = random.round(expected)
    for (let k = 0; k < n; k++) {
      const p = this.any(random)
      const t = Math.max(dayStart + timeOfDay.draw(random), p.updatedMs + 1000)
      const discount = random.chance(month === 10 ? 0.75 : 0.55)
      const factor = discount ? random.between(0.7, 0.97) : random.between(1.03, 1.2)
      const moveCategory = random.chance(recategorise)
      const pair = dirtRandom.chance(outOfOrderRate)
      const t2 = t + random.intBetween(1, 30) * MINUTE_MS
      if (p.changedMs >= dayStart || t >= timeline.endMs || (pair && t2 >= timeline.endMs)) continue
      p.previousPriceCents = p.priceCents
      p.changedMs = t
      let cents = charmCents((p.priceCents / 100) * factor)
      if (cents === p.priceCents) cents += discount ? -100 : 100
      p.priceCents = Math.max(99, cents)
      if (moveCategory) p.category = (p.category + 1 + random.int(categories.length - 1)) % categories.length
      p.updatedMs = t
      const first = this.record(p)
      if (!pair) {
        timeline.schedule(t, PRODUCTS, first)
        continue
      }
      p.category = (p.category + 1 + random.int(categories.length - 1)) % categories.length
      p.updatedMs = t2
      timeline.schedule(t2, PRODUCTS, this.record(p), 'clean')
      timeline.schedule(t2 + 1, PRODUCTS, first, 'out_of_order_update')
    }
  }
}
