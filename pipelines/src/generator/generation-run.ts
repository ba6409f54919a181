import { allocate, DAY_MS, DayTimes, dayWeights, HOUR_MS, TimeOfDay, utcMidnight } from './calendar.js'
import { Catalog } from './catalog.js'
import { ChunkSink } from './chunk-sink.js'
import { Clickstream } from './clickstream.js'
import { CustomerBase } from './customer-base.js'
import { DirtPlan } from './dirt-plan.js'
import { Emitter } from './emitter.js'
import type { GeneratedChunk, GenerationSummary } from './generation-summary.js'
import type { ResolvedGeneratorOptions } from './generator-options.js'
import { OrderFactory } from './order-factory.js'
import { orderVersion } from './order-versions.js'
import { buildPools } from './pools.js'
import { Random } from './random.js'
import { PRODUCTS } from './raw-record.js'
import { type PendingVisitor, Timeline } from './timeline.js'

/** Random streams of a seed: data choices and dirt choices draw from separate sequences. */
const DATA_STREAM = 0
const DIRT_STREAM = 1

/**
 * One run of the generator: walks the timeline day by day and, within a day, hour by hour; yields
 * chunks as soon as they are full (all open chunks are closed at the end of a part) and reports the
 * summary through `done` at the end. Holds in memory only the catalog, a few typed-array slots per
 * customer, what is scheduled for later hours (order updates, returns, refunds, delayed customers)
 * and the records held back as dirt.
 */
export function* runGeneration(
  options: ResolvedGeneratorOptions,
  done: (summary: GenerationSummary) => void,
): Generator<GeneratedChunk, void, undefined> {
  const startMs = utcMidnight(options.start)
  const random = new Random(options.seed, DATA_STREAM)
  const dirtRandom = new Random(options.seed, DIRT_STREAM)
  const pools = buildPools(options.seed)
  const timeOfDay = new TimeOfDay()
  const timeline = new Timeline(startMs, options.days)
  const catalog = new Catalog(options.products, pools, random, startMs)
  const customers = new CustomerBase(Math.min(options.customers, options.orders), options.orders, pools)
  const sink = new ChunkSink(options.chunkSize)
  const emitter = new Emitter(sink, new DirtPlan(options.dirt), dirtRandom, customers, options.days)
  const clickstream = new Clickstream(catalog, customers, timeline)
  const orders = new OrderFactory(
    {
      outOfOrderRate: options.dirt.out_of_order_update,
      orphanRate: options.dirt.orphan,
      partDays: options.partDays,
      startMs,
    },
    pools,
    catalog,
    customers,
    clickstream,
    timeline,
    timeOfDay,
    random,
    dirtRandom,
  )
  const perDay = allocate(options.orders, dayWeights(startMs, options.days, random))
  const parts = Math.ceil(options.days / options.partDays)
  const times = new DayTimes(timeOfDay)
  const browseStarts = new DayTimes(timeOfDay)

  for (const product of catalog.products) emitter.emit(PRODUCTS, catalog.record(product), 'draw', false, 0)

  let orderIndex = 0
  const emit: PendingVisitor = (entity, record, dirt, final, variant, at) =>
    emitter.emit(entity, variant === 0 ? record : orderVersion(record, variant, at), dirt, final, day)
  let day = 0
  for (; day < options.days; day++) {
    sink.setPart(Math.floor(day / options.partDays))
    customers.beginDay()
    const dayStart = startMs + day * DAY_MS
    catalog.scheduleChanges(dayStart, timeOfDay, random, dirtRandom, options.dirt.out_of_order_update, timeline)
    customers.scheduleUpdates(dayStart, timeOfDay, random, dirtRandom, options.dirt.out_of_order_update, timeline)
    const orderTimes = times.draw(perDay[day] as number, dayStart, random)
    const browseCount = random.round(orderTimes.length * options.clickstream.browseSessionsPerOrder)
    const browseTimes = browseStarts.draw(browseCount, dayStart, random)

    // Hour by hour: create the hour's orders and sessions, then emit the hour before (a purchase
    // session or a signup starts at most 40 minutes before its order).
    let o = 0
    let b = 0
    for (let hour = 0; hour < 24; hour++) {
      const hourEnd = dayStart + (hour + 1) * HOUR_MS
      for (; o < orderTimes.length && (orderTimes[o] as number) < hourEnd; o++) {
        orders.create(orderTimes[o] as number, orderIndex++, day, dayStart)
      }
      for (; b < browseTimes.length && (browseTimes[b] as number) < hourEnd; b++) {
        clickstream.browseSession(browseTimes[b] as number, random)
      }
      if (hour > 0) {
        timeline.drain(day * 24 + hour - 1, emit)
        yield* sink.take()
      }
    }
    timeline.drain(day * 24 + 23, emit)
    emitter.release(day)
    yield* sink.take()
  }
  sink.flushAll()
  yield* sink.take()
  done(sink.summary(parts))
}
