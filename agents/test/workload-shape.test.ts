import { beforeAll, describe, expect, it } from 'vitest'
import { clusterLabel, templateClass } from '../src/workload/cluster-label.js'
import { fitFeatureScaling, TEMPLATE_FEATURES } from '../src/workload/template-features.js'
import { loadTemplateParser, templateShape } from '../src/workload/template-shape.js'

const facts = (relations: string[] = []) => ({ kind: 'select' as const, relations, columns: [] })

beforeAll(async () => {
  await loadTemplateParser()
})

describe('templateShape', () => {
  it('reads joins, aggregates, grouping, ordering and predicates from the parse tree', () => {
    const shape = templateShape(
      [
        `SELECT o.country, sum(oi.quantity * oi.unit_price), count(DISTINCT o.order_id), rank() OVER (ORDER BY o.country)
         FROM silver.orders o JOIN silver.order_items oi ON oi.order_id = o.order_id, silver.products p
         WHERE o.order_ts >= '2025-06-01' AND (o.status = 'paid' OR o.status = 'shipped') AND p.product_id = oi.product_id
         GROUP BY o.country HAVING count(*) > 3 ORDER BY 2 DESC`,
      ],
      facts(),
    )
    expect(shape).toEqual({
      kind: 'select',
      relations: ['silver.order_items', 'silver.orders', 'silver.products'],
      joins: 2,
      aggregates: 3,
      windows: 1,
      groupBy: 1,
      // The window's ORDER BY is part of the window, not of the statement.
      orderBy: 1,
      predicates: 5,
      limit: false,
      subqueries: 0,
      parsed: true,
    })
  })

  it('counts sub-queries and CTEs, keeps the LIMIT of the statement only, and does not take a CTE for a table', () => {
    const shape = templateShape(
      [
        `WITH recent AS (SELECT customer_id FROM silver.orders ORDER BY order_ts DESC LIMIT 100)
         SELECT c.email FROM silver.customers c
         WHERE c.customer_id IN (SELECT customer_id FROM recent) AND EXISTS (SELECT 1 FROM silver.payments)`,
      ],
      facts(),
    )
    expect(shape.relations).toEqual(['silver.customers', 'silver.orders', 'silver.payments'])
    expect(shape.subqueries).toBe(3)
    expect(shape.limit).toBe(false)
    expect(shape.orderBy).toBe(1)
  })

  it('uses the proxy’s analysis when neither text parses, and prefers its resolved relations', () => {
    const shape = templateShape([undefined, 'select count(*) from orders where order_ts > $1 and limit $2'], {
      kind: 'select',
      relations: ['silver.orders'],
      columns: [{ role: 'predicate' }, { role: 'orderBy' }],
    })
    expect(shape).toMatchObject({
      parsed: false,
      relations: ['silver.orders'],
      aggregates: 1,
      predicates: 1,
      limit: true,
    })
    const parsed = templateShape(['SELECT * FROM orders WHERE order_id = $1'], facts(['silver.orders']))
    expect(parsed).toMatchObject({ parsed: true, relations: ['silver.orders'], predicates: 1 })
  })
})

describe('template classes and labels', () => {
  const shape = (over: Partial<ReturnType<typeof templateShape>>) => ({
    ...templateShape(['SELECT 1'], facts()),
    ...over,
  })

  it('names a cluster after its dominant class and relations, with ⋈ when one template joins them', () => {
    const join = shape({ relations: ['silver.order_items', 'silver.orders'], joins: 1, aggregates: 2, groupBy: 1 })
    expect(templateClass(join, 2)).toBe('aggregates')
    expect(clusterLabel([{ shape: join, medianLogRows: 2, executions: 10 }])).toBe(
      'aggregates over silver.order_items ⋈ silver.orders',
    )
    const lookup = shape({ relations: ['silver.customers'], predicates: 1 })
    expect(templateClass(lookup, Math.log(2))).toBe('point lookups')
    expect(templateClass(lookup, Math.log(50))).toBe('scans')
    expect(
      clusterLabel([
        { shape: lookup, medianLogRows: Math.log(2), executions: 5 },
        { shape: shape({ relations: ['gold.daily_sales'], orderBy: 1, limit: true }), medianLogRows: 2, executions: 5 },
      ]),
    ).toBe('mixed point lookups and top-N over gold.daily_sales, silver.customers')
  })
})

describe('fitFeatureScaling', () => {
  it('never divides by less than a feature’s resolution, so a small spread stays small', () => {
    const rows = [0, 1, 2, 3].map((i) => TEMPLATE_FEATURES.map((_, d) => (d === 8 ? Math.log1p(1 + (i % 2)) : i)))
    const scaling = fitFeatureScaling(rows)
    expect(scaling.std[8]).toBe(0.5)
    expect(scaling.std[0]).toBeCloseTo(Math.sqrt(1.25), 9)
  })
})
