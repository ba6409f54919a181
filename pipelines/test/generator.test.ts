import { describe, expect, it } from 'vitest'
import { type GeneratedChunk, type GenerationSummary, generate } from '../src/generator/generate.js'
import {
  type DirtKind,
  dirtKinds,
  type EntityName,
  entityNames,
  type GeneratorOptions,
} from '../src/generator/generator-options.js'
import { entityFields } from '../src/generator/raw-record.js'

type Row = Record<string, unknown>

interface Run {
  readonly chunks: GeneratedChunk[]
  readonly summary: GenerationSummary
  /** Records of each entity in emission order, with the part they came in. */
  readonly rows: Record<EntityName, { record: Row; part: number; chunk: number }[]>
}

function run(options: GeneratorOptions): Run {
  const generation = generate(options)
  const chunks = [...generation]
  const rows = Object.fromEntries(entityNames.map((e) => [e, []])) as unknown as Run['rows']
  chunks.forEach((chunk, i) => {
    for (const record of chunk.records) rows[chunk.entity].push({ record, part: chunk.part, chunk: i })
  })
  return { chunks, summary: generation.summary, rows }
}

const only = (kind: DirtKind, rate: number): Partial<Record<DirtKind, number>> =>
  Object.fromEntries(dirtKinds.map((k) => [k, k === kind ? rate : 0]))

const everyKind = (rate: number): Partial<Record<DirtKind, number>> =>
  Object.fromEntries(dirtKinds.map((k) => [k, rate]))

const dirtCount = (summary: GenerationSummary, entity: EntityName, kind: DirtKind): number =>
  summary.dirt[entity][kind] ?? 0

/** Code fields a cleaner lower-cases; every other string is only trimmed. */
const codeFields = new Set([
  'country',
  'segment',
  'category',
  'currency',
  'status',
  'channel',
  'method',
  'reason',
  'event_type',
  'device',
])

/** What a cleaner makes of a record: trimmed text, lower-case codes, numeric text as numbers, sorted keys. */
function normalised(record: Row): string {
  const out: Row = {}
  for (const key of Object.keys(record).sort()) {
    let value = record[key]
    if (typeof value === 'string') {
      value = value.trim()
      if (codeFields.has(key)) value = (value as string).toLowerCase()
      if (/^-?\d+(\.\d+)?$/.test(value as string)) value = Number(value)
    }
    out[key] = value
  }
  return JSON.stringify(out)
}

/** The key of a record version: business key and `updated_at` (event_id for clickstream events). */
function versionKey(entity: EntityName, r: Row): string {
  switch (entity) {
    case 'customers':
      return `${r.customer_id}@${r.updated_at}`
    case 'products':
      return `${r.product_id}@${r.updated_at}`
    case 'orders':
      return `${r.order_id}@${r.updated_at}`
    case 'order_items':
      return `${r.order_id}/${r.line_no}@${r.updated_at}`
    case 'payments':
      return String(r.payment_id)
    case 'returns':
      return String(r.return_id)
    case 'clickstream_events':
      return String(r.event_id)
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0
const isAmount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const cents = (v: number): number => Math.round(v * 100)

// Shared runs (each a few hundred thousand records).
const base = run({ orders: 20_000, seed: 7 })
const heavy = run({ orders: 20_000, seed: 11, dirt: everyKind(0.02) })
const clean = run({ orders: 5_000, seed: 3, days: 120, dirt: 'none' })

describe('generate: determinism', () => {
  it('gives byte-identical output for the same options and different output for another seed', () => {
    const options = { orders: 3000, days: 60, partDays: 20, seed: 5 }
    const a = JSON.stringify([...generate(options)])
    const b = JSON.stringify([...generate(options)])
    const c = JSON.stringify([...generate({ ...options, seed: 6 })])
    expect(a).toBe(b)
    expect(c).not.toBe(a)
  })

  it('runs again from the start when a generation is iterated twice', () => {
    const generation = generate({ orders: 500, days: 30 })
    const first = JSON.stringify([...generation])
    const summary = generation.summary
    expect(JSON.stringify([...generation])).toBe(first)
    expect(generation.summary).toEqual(summary)
  })

  it('has no summary before an iteration has finished', () => {
    expect(() => generate({ orders: 10 }).summary).toThrow(/not been iterated/)
  })
})

describe('generate: chunks and summary', () => {
  it('counts in the summary exactly what it emitted', () => {
    for (const r of [base, heavy, clean]) {
      for (const entity of entityNames) {
        expect(r.summary.records[entity]).toBe(r.rows[entity].length)
        const dirty = Object.values(r.summary.dirt[entity]).reduce((a, b) => a + (b ?? 0), 0)
        expect(dirty).toBeLessThanOrEqual(r.rows[entity].length)
      }
    }
    expect(base.summary.parts).toBe(Math.ceil(365 / 30))
  })

  it('yields chunks of one entity, at most chunkSize records, parts in order', () => {
    const r = run({ orders: 2000, days: 50, partDays: 7, chunkSize: 100 })
    expect(r.summary.parts).toBe(8)
    let part = 0
    for (const chunk of r.chunks) {
      expect(chunk.records.length).toBeGreaterThan(0)
      expect(chunk.records.length).toBeLessThanOrEqual(100)
      expect(chunk.part).toBeGreaterThanOrEqual(part)
      expect(chunk.part).toBeLessThan(r.summary.parts)
      part = chunk.part
    }
    expect(part).toBe(7)
  })

  it('emits every product up-front in part 0 and later versions after it', () => {
    const products = clean.rows.products
    const firstVersions = products.slice(0, 50)
    expect(firstVersions.map((p) => p.record.product_id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(firstVersions.every((p) => p.part === 0)).toBe(true)
    expect(products.length).toBeGreaterThan(50)
    expect(products.slice(50).every((p) => (p.record.updated_at as string) >= '2025-01-01')).toBe(true)
  })

  it('makes exactly `orders` orders and at most `customers` customers', () => {
    const orderIds = new Set(base.rows.orders.map((o) => o.record.order_id))
    expect(orderIds.size).toBe(20_000)
    expect(Math.max(...[...orderIds].map(Number))).toBe(20_000)
    const customerIds = new Set(base.rows.customers.map((c) => c.record.customer_id))
    expect(customerIds.size).toBe(5000)
  })
})

describe('generate: clean data', () => {
  const accepted: Partial<Record<string, readonly string[]>> = {
    segment: ['consumer', 'business', 'vip'],
    status: ['placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned', 'captured', 'failed', 'refunded'],
    channel: ['web', 'mobile_app', 'marketplace', 'store'],
    currency: ['USD', 'EUR', 'GBP', 'CAD', 'AUD'],
    method: ['card', 'paypal', 'bank_transfer', 'gift_card'],
    event_type: ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'],
    device: ['desktop', 'mobile', 'tablet'],
  }
  const timestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
  const ids = new Set(['customer_id', 'product_id', 'order_id', 'payment_id', 'return_id', 'line_no', 'quantity'])
  const amounts = new Set(['price', 'total_amount', 'unit_price', 'discount', 'amount', 'refund_amount'])

  it('has the contract fields, accepted values, ISO timestamps, positive ids and 2-decimal amounts', () => {
    const problems: string[] = []
    for (const entity of entityNames) {
      expect(clean.rows[entity].length).toBeGreaterThan(0)
      const fields = entityFields[entity].join()
      for (const { record } of clean.rows[entity]) {
        if (Object.keys(record).join() !== fields) problems.push(`${entity} fields ${Object.keys(record)}`)
        for (const [field, value] of Object.entries(record)) {
          const values = accepted[field]
          const bad =
            (values !== undefined && !values.includes(value as string)) ||
            ((field.endsWith('_ts') || field.endsWith('_at')) && !timestamp.test(value as string)) ||
            (ids.has(field) && !(entity === 'clickstream_events' && value === null) && !isCount(value)) ||
            (amounts.has(field) && !(isAmount(value) && value >= 0 && cents(value) / 100 === value))
          if (bad) problems.push(`${entity}.${field} = ${JSON.stringify(value)}`)
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([])
    expect(clean.summary.dirt).toEqual(Object.fromEntries(entityNames.map((e) => [e, {}])))
  })

  it('gives later versions a later updated_at, emitted in order', () => {
    const last = new Map<string, string>()
    for (const entity of ['customers', 'products', 'orders'] as const) {
      const key = entity === 'customers' ? 'customer_id' : entity === 'products' ? 'product_id' : 'order_id'
      for (const { record } of clean.rows[entity]) {
        const id = `${entity}:${record[key]}`
        const previous = last.get(id)
        if (previous !== undefined) expect((record.updated_at as string) > previous).toBe(true)
        last.set(id, record.updated_at as string)
      }
    }
    const statuses = new Set(clean.rows.orders.map((o) => o.record.status))
    expect([...statuses].sort()).toEqual(['cancelled', 'delivered', 'paid', 'placed', 'returned', 'shipped'])
  })

  it('emits a customer before (or in the same part as) the first order that references them', () => {
    const customerPart = new Map<unknown, number>()
    for (const { record, part } of clean.rows.customers) {
      if (!customerPart.has(record.customer_id)) customerPart.set(record.customer_id, part)
    }
    for (const { record, part } of clean.rows.orders) {
      expect(customerPart.get(record.customer_id)).toBeLessThanOrEqual(part)
    }
  })

  it('ties every purchase session to its order: same customer, its products, at the order time', () => {
    const orders = new Map<unknown, Row>()
    for (const { record } of clean.rows.orders) if (record.status === 'placed') orders.set(record.order_id, record)
    const products = new Map<unknown, Set<unknown>>()
    for (const { record } of clean.rows.order_items) {
      const set = products.get(record.order_id) ?? new Set()
      set.add(record.product_id)
      products.set(record.order_id, set)
    }
    const sessions = new Map<unknown, Row[]>()
    for (const { record } of clean.rows.clickstream_events) {
      const list = sessions.get(record.session_id) ?? []
      list.push(record)
      sessions.set(record.session_id, list)
    }
    let purchases = 0
    for (const events of sessions.values()) {
      const last = events[events.length - 1] as Row
      if (last.event_type !== 'purchase') {
        expect(events.some((e) => e.event_type === 'purchase')).toBe(false)
        continue
      }
      purchases++
      const orderId = Number(/\/checkout\/confirmation\/(\d+)$/.exec(last.page_url as string)?.[1])
      const order = orders.get(orderId) as Row
      expect(order).toBeDefined()
      expect(last.customer_id).toBe(order.customer_id)
      expect(last.event_ts).toBe(order.order_ts)
      const carted = new Set(events.filter((e) => e.event_type === 'add_to_cart').map((e) => e.product_id))
      expect(carted).toEqual(products.get(orderId))
      expect(events.map((e) => e.event_ts as string)).toEqual(events.map((e) => e.event_ts as string).sort())
    }
    const webOrders = [...orders.values()].filter((o) => o.channel === 'web' || o.channel === 'mobile_app').length
    expect(purchases).toBe(webOrders)
    expect(sessions.size).toBeGreaterThan(purchases * 1.5)
    const events = clean.rows.clickstream_events.length / orders.size
    expect(events).toBeGreaterThan(6)
    expect(events).toBeLessThan(8)
    expect(clean.rows.clickstream_events.some((e) => e.record.customer_id === null)).toBe(true)
  })

  it('has seasonality: November and December above the summer months', () => {
    const r = run({ orders: 20_000, dirt: 'none', seed: 1 })
    const perMonth = new Map<string, number>()
    for (const { record } of r.rows.orders) {
      if (record.status !== 'placed') continue
      const month = (record.order_ts as string).slice(5, 7)
      perMonth.set(month, (perMonth.get(month) ?? 0) + 1)
    }
    const m = (month: string): number => perMonth.get(month) ?? 0
    expect(m('12')).toBeGreaterThan(m('07') * 1.4)
    expect(m('11')).toBeGreaterThan(m('06') * 1.3)
  })
})

describe('generate: consistency', () => {
  /** Valid item lines per order (order_id → line_no → item), from records a cleaner would accept. */
  function validLines(r: Run): Map<unknown, Map<unknown, Row>> {
    const lines = new Map<unknown, Map<unknown, Row>>()
    for (const { record } of r.rows.order_items) {
      const byLine = lines.get(record.order_id) ?? new Map<unknown, Row>()
      lines.set(record.order_id, byLine)
      if (!byLine.has(record.line_no)) byLine.set(record.line_no, {})
      const valid =
        isCount(record.quantity) &&
        isAmount(record.unit_price) &&
        isAmount(record.discount) &&
        isCount(record.product_id)
      if (valid) byLine.set(record.line_no, record)
    }
    return lines
  }

  it('gives every clean order the total of its items, and its captured payment that amount', () => {
    for (const r of [base, heavy]) {
      const lines = validLines(r)
      const totals = new Map<unknown, number>()
      for (const { record } of r.rows.orders) {
        if (isAmount(record.total_amount)) totals.set(record.order_id, record.total_amount)
      }
      let checked = 0
      const wrong: string[] = []
      for (const [orderId, total] of totals) {
        const items = [...(lines.get(orderId) ?? new Map<unknown, Row>()).values()]
        if (items.length === 0) wrong.push(`order ${orderId} has no items`)
        if (items.some((item) => item.quantity === undefined)) continue
        let sum = 0
        for (const item of items) {
          sum += (item.quantity as number) * cents(item.unit_price as number) - cents(item.discount as number)
        }
        if (sum !== cents(total)) wrong.push(`order ${orderId}: items ${sum / 100}, total ${total}`)
        checked++
      }
      for (const { record } of r.rows.payments) {
        if (record.status !== 'captured' || !isAmount(record.amount) || !totals.has(record.order_id)) continue
        if (record.amount !== totals.get(record.order_id)) wrong.push(`payment ${record.payment_id}: ${record.amount}`)
      }
      expect(wrong.slice(0, 10)).toEqual([])
      expect(checked).toBeGreaterThan(r === base ? 19_000 : 16_000)
    }
  })

  it('makes returns of real order lines, at most their quantity, refunding at most their amount', () => {
    const lines = validLines(base)
    let checked = 0
    for (const { record } of base.rows.returns) {
      if (!isCount(record.quantity) || !isAmount(record.refund_amount) || record.order_id === undefined) continue
      const item = lines.get(record.order_id)?.get(record.line_no) as Row
      expect(item).toBeDefined()
      if (item.quantity === undefined) continue
      expect(record.product_id).toBe(item.product_id)
      expect(record.quantity).toBeLessThanOrEqual(item.quantity as number)
      const net = (item.quantity as number) * cents(item.unit_price as number) - cents(item.discount as number)
      expect(cents(record.refund_amount)).toBeLessThanOrEqual(net)
      checked++
    }
    expect(checked).toBeGreaterThan(200)
  })
})

describe('generate: dirt', () => {
  it('injects each kind at roughly its rate', () => {
    const s = heavy.summary
    const eligible = (entity: EntityName): number =>
      s.records[entity] - dirtCount(s, entity, 'duplicate') - dirtCount(s, entity, 'near_duplicate')
    const checks: [EntityName, DirtKind][] = [
      ['orders', 'duplicate'],
      ['orders', 'near_duplicate'],
      ['orders', 'missing_field'],
      ['orders', 'malformed'],
      ['orders', 'wrong_type'],
      ['orders', 'unknown_currency'],
      ['orders', 'schema_drift_extra'],
      ['orders', 'schema_drift_renamed'],
      ['order_items', 'negative_quantity'],
      ['order_items', 'late'],
      ['payments', 'unknown_currency'],
      ['payments', 'missing_field'],
      ['clickstream_events', 'duplicate'],
      ['clickstream_events', 'late'],
      ['clickstream_events', 'schema_drift_extra'],
      ['customers', 'schema_drift_renamed'],
    ]
    for (const [entity, kind] of checks) {
      const ratio = dirtCount(s, entity, kind) / eligible(entity) / 0.02
      expect(ratio, `${entity} ${kind}`).toBeGreaterThan(0.75)
      expect(ratio, `${entity} ${kind}`).toBeLessThan(1.25)
    }
    const firstOrders = new Set(heavy.rows.customers.map((c) => c.record.customer_id)).size
    const orphanRatio = dirtCount(s, 'orders', 'orphan') / firstOrders / 0.02
    expect(orphanRatio).toBeGreaterThan(0.6)
    expect(orphanRatio).toBeLessThan(1.25)
    for (const entity of ['customers', 'products'] as const) {
      expect(dirtCount(s, entity, 'late')).toBe(0)
      expect(dirtCount(s, entity, 'negative_quantity')).toBe(0)
    }
    expect(dirtCount(s, 'orders', 'out_of_order_update')).toBeGreaterThan(0)
    expect(dirtCount(s, 'customers', 'out_of_order_update')).toBeGreaterThan(0)
  })

  it('emits the customer of each orphan order in a later part, and no other order before its customer', () => {
    for (const r of [base, heavy]) {
      const customerPart = new Map<unknown, number>()
      for (const { record, part } of r.rows.customers) {
        if (!customerPart.has(record.customer_id)) customerPart.set(record.customer_id, part)
      }
      const orderPart = new Map<unknown, { part: number; customer: unknown }>()
      for (const { record, part } of r.rows.orders) {
        if (!isCount(record.customer_id) || orderPart.has(record.order_id)) continue
        orderPart.set(record.order_id, { part, customer: record.customer_id })
      }
      let orphans = 0
      for (const { part, customer } of orderPart.values()) {
        const first = customerPart.get(customer)
        expect(first).toBeDefined()
        if ((first as number) > part) orphans++
      }
      expect(orphans).toBe(dirtCount(r.summary, 'orders', 'orphan'))
      expect(orphans).toBeGreaterThan(10)
    }
  })

  it('makes duplicates exact copies and near duplicates equal after normalisation, counted exactly', () => {
    for (const r of [base, heavy]) {
      for (const entity of entityNames) {
        const groups = new Map<string, Row[]>()
        for (const { record } of r.rows[entity]) {
          const key = versionKey(entity, record)
          const group = groups.get(key) ?? []
          group.push(record)
          groups.set(key, group)
        }
        let exact = 0
        let near = 0
        const wrong: string[] = []
        for (const group of groups.values()) {
          if (group.length === 1) continue
          const [a, b] = group as [Row, Row]
          if (group.length > 2 || normalised(a) !== normalised(b)) wrong.push(JSON.stringify(group))
          if (JSON.stringify(a) === JSON.stringify(b)) exact++
          else near++
        }
        expect(wrong.slice(0, 5), entity).toEqual([])
        expect(exact, `${entity} duplicates`).toBe(dirtCount(r.summary, entity, 'duplicate'))
        expect(near, `${entity} near duplicates`).toBe(dirtCount(r.summary, entity, 'near_duplicate'))
      }
    }
    expect(dirtCount(heavy.summary, 'order_items', 'near_duplicate')).toBeGreaterThan(10)
  })

  it('marks each broken record: missing, malformed, wrong type, negative, unknown currency, drift', () => {
    const r = heavy
    for (const entity of entityNames) {
      const fields = entityFields[entity]
      const rows = r.rows[entity].map((x) => x.record)
      const missing = rows.filter(
        (x) =>
          fields.some((f) => !(f in x)) && !('email_address' in x) && !('amount_total' in x) && !('list_price' in x),
      )
      expect(missing.length, `${entity} missing`).toBe(dirtCount(r.summary, entity, 'missing_field'))
      const malformed = rows.filter((x) =>
        Object.values(x).some(
          (v) => typeof v === 'string' && (/^\d{4}-(1[3-9])-/.test(v) || /^\d+\.\d\d\.\d$/.test(v)),
        ),
      )
      expect(malformed.length, `${entity} malformed`).toBe(dirtCount(r.summary, entity, 'malformed'))
      const words = rows.filter((x) =>
        ['price', 'total_amount', 'quantity', 'amount'].some(
          (f) => typeof x[f] === 'string' && /^[a-z][a-z -]*$/.test(x[f] as string),
        ),
      )
      expect(words.length, `${entity} wrong type`).toBe(dirtCount(r.summary, entity, 'wrong_type'))
      const negative = rows.filter((x) => typeof x.quantity === 'number' && x.quantity < 0)
      expect(negative.length, `${entity} negative`).toBe(dirtCount(r.summary, entity, 'negative_quantity'))
      const currency = rows.filter(
        (x) =>
          typeof x.currency === 'string' &&
          !['USD', 'EUR', 'GBP', 'CAD', 'AUD'].includes(x.currency.trim().toUpperCase()),
      )
      expect(currency.length, `${entity} currency`).toBe(dirtCount(r.summary, entity, 'unknown_currency'))
      const extra = rows.filter((x) => 'coupon_code' in x || 'utm_campaign' in x || 'loyalty_tier' in x)
      expect(extra.length, `${entity} extra`).toBe(dirtCount(r.summary, entity, 'schema_drift_extra'))
      const renamed = rows.filter((x) => 'email_address' in x || 'amount_total' in x || 'list_price' in x)
      expect(renamed.length, `${entity} renamed`).toBe(dirtCount(r.summary, entity, 'schema_drift_renamed'))
    }
  })

  it('holds late records back: emitted a day or more after newer records, in a later chunk', () => {
    const r = run({ orders: 5000, days: 90, seed: 2, dirt: only('late', 0.03) })
    for (const entity of ['order_items', 'payments', 'clickstream_events'] as const) {
      const field = entity === 'clickstream_events' ? 'event_ts' : 'updated_at'
      let newest = ''
      let late = 0
      /** The chunk of the first record of each date: a late record comes in a later chunk. */
      const seenChunks = new Map<string, number>()
      for (const { record, chunk } of r.rows[entity]) {
        const ts = record[field] as string
        const dayAfter = new Date(Date.parse(ts) + 86_400_000).toISOString()
        if (dayAfter < newest) {
          late++
          expect(chunk).toBeGreaterThan(seenChunks.get(ts.slice(0, 10)) ?? -1)
          continue
        }
        if (ts > newest) newest = ts
        if (!seenChunks.has(ts.slice(0, 10))) seenChunks.set(ts.slice(0, 10), chunk)
      }
      const injected = dirtCount(r.summary, entity, 'late')
      expect(injected).toBeGreaterThan(10)
      expect(late).toBeLessThanOrEqual(injected)
      expect(late).toBeGreaterThanOrEqual(injected * 0.9)
    }
  })

  it('emits an out-of-order update after a newer version of the same record, counted exactly', () => {
    const r = run({ orders: 5000, days: 120, seed: 4, dirt: only('out_of_order_update', 0.2) })
    for (const [entity, key] of [
      ['orders', 'order_id'],
      ['customers', 'customer_id'],
      ['products', 'product_id'],
    ] as const) {
      const newest = new Map<unknown, string>()
      let older = 0
      for (const { record } of r.rows[entity]) {
        const previous = newest.get(record[key])
        const ts = record.updated_at as string
        if (previous !== undefined && ts < previous) older++
        else newest.set(record[key], ts)
      }
      expect(older, entity).toBe(dirtCount(r.summary, entity, 'out_of_order_update'))
      expect(older, entity).toBeGreaterThan(entity === 'orders' ? 100 : 3)
    }
  })

  it('injects nothing with dirt none and only the asked kind otherwise', () => {
    const r = run({ orders: 3000, days: 60, dirt: only('wrong_type', 0.05) })
    for (const entity of entityNames) {
      expect(Object.keys(r.summary.dirt[entity]).filter((k) => k !== 'wrong_type')).toEqual([])
    }
    expect(dirtCount(r.summary, 'order_items', 'wrong_type')).toBeGreaterThan(0)
    expect(dirtCount(r.summary, 'customers', 'wrong_type')).toBe(0)
  })
})
