import { loadModule } from 'libpg-query'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createIndexSql,
  dropIndexSql,
  type IndexDefinition,
  indexKey,
  indexName,
} from '../src/indexes/index-definition.js'
import { statementPredicates } from '../src/indexes/statement-predicates.js'

beforeAll(async () => {
  await loadModule()
})

const orders: IndexDefinition = {
  schema: 'silver',
  table: 'orders',
  method: 'btree',
  keys: ['customer_id'],
  include: [],
}

describe('index names and DDL', () => {
  it('names an index cairn_<table>_<cols> with a suffix for partial, covering and BRIN indexes', () => {
    expect(indexName(orders)).toBe('cairn_orders_customer_id')
    expect(indexName({ ...orders, predicate: `"status" = 'paid'` })).toBe('cairn_orders_customer_id_partial')
    expect(indexName({ ...orders, include: ['total'] })).toBe('cairn_orders_customer_id_covering')
    expect(indexName({ ...orders, method: 'brin', keys: ['created_at'] })).toBe('cairn_orders_created_at_brin')
  })

  it('trims a long name to 63 bytes with a hash that tells long definitions apart', () => {
    const long: IndexDefinition = {
      ...orders,
      table: 'customer_lifetime_value_snapshots',
      keys: ['first_purchase_channel', 'acquisition_campaign_id'],
    }
    const a = indexName(long)
    const b = indexName({ ...long, keys: ['first_purchase_channel', 'acquisition_campaign_code'] })
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63)
    expect(a).toMatch(/^cairn_customer_lifetime_value_snapshots_first_purchase.*_[0-9a-f]{8}$/)
    expect(a).not.toBe(b)
  })

  it('quotes identifiers in the DDL and rolls back with DROP INDEX CONCURRENTLY', () => {
    const odd: IndexDefinition = {
      schema: 'Sales Data',
      table: 'Order"Items',
      method: 'btree',
      keys: ['Customer Id', 'status'],
      include: ['total'],
      predicate: `"status" = 'paid'`,
    }
    expect(createIndexSql(odd, 'cairn_x')).toBe(
      `CREATE INDEX CONCURRENTLY "cairn_x" ON "Sales Data"."Order""Items" USING btree ("Customer Id", "status") INCLUDE ("total") WHERE "status" = 'paid'`,
    )
    expect(dropIndexSql('Sales Data', 'cairn_x')).toBe('DROP INDEX CONCURRENTLY "Sales Data"."cairn_x"')
    expect(indexKey(odd)).toBe(
      `index.create:Sales Data.Order"Items(Customer Id, status) include (total) where "status" = 'paid'`,
    )
  })
})

describe('statement predicates', () => {
  const columns: Record<string, string[]> = {
    'silver.orders': ['id', 'customer_id', 'status', 'created_at', 'total'],
    'silver.customers': ['id', 'name', 'segment'],
  }
  const context = {
    qualify: ({ schema, name }: { schema?: string; name: string }) => {
      const qualified = schema ? `${schema}.${name}` : `silver.${name}`
      return columns[qualified] ? qualified : undefined
    },
    columnsOf: (relation: string) => (columns[relation] ? new Set(columns[relation]) : undefined),
  }

  it('ties columns to tables through aliases and tells equality, range, joins and sorts apart', () => {
    const shape = statementPredicates(
      `SELECT o.total, c.name FROM silver.orders o JOIN customers c ON c.id = o.customer_id
        WHERE o.status = 'paid' AND created_at >= $1 AND segment IN ('a', 'b') ORDER BY o.created_at DESC LIMIT 10`,
      ['2026-01-01'],
      context,
    )
    expect(shape.explainable).toBe(true)
    expect(shape.predicates).toEqual([
      { relation: 'silver.orders', column: 'status', operator: 'eq', disjunctive: false, literal: `"status" = 'paid'` },
      { relation: 'silver.orders', column: 'created_at', operator: 'range', disjunctive: false },
      { relation: 'silver.customers', column: 'segment', operator: 'in', disjunctive: false },
    ])
    expect(shape.joins).toEqual([
      { relation: 'silver.customers', column: 'id' },
      { relation: 'silver.orders', column: 'customer_id' },
    ])
    expect(shape.orderBy).toEqual([{ relation: 'silver.orders', column: 'created_at', descending: true }])
    expect(shape.limit).toBe(true)
    expect(shape.referenced.find((r) => r.relation === 'silver.orders')?.columns).toEqual(
      expect.arrayContaining(['total', 'status', 'created_at', 'customer_id']),
    )
  })

  it('reads a bound parameter as the literal a partial index would hold, and IS NULL as a condition', () => {
    const shape = statementPredicates(
      'SELECT id FROM silver.orders WHERE status = $1 AND created_at IS NULL AND (total > 5 OR customer_id = 3)',
      ['paid'],
      context,
    )
    expect(shape.predicates).toEqual([
      { relation: 'silver.orders', column: 'status', operator: 'eq', disjunctive: false, literal: `"status" = 'paid'` },
      {
        relation: 'silver.orders',
        column: 'created_at',
        operator: 'eq',
        disjunctive: false,
        literal: '"created_at" IS NULL',
      },
      { relation: 'silver.orders', column: 'total', operator: 'range', disjunctive: true },
      {
        relation: 'silver.orders',
        column: 'customer_id',
        operator: 'eq',
        disjunctive: true,
        literal: '"customer_id" = 3',
      },
    ])
  })

  it('never calls several statements explainable, and reads a subquery in its own scope', () => {
    expect(statementPredicates('SELECT 1; DROP TABLE silver.orders', null, context).explainable).toBe(false)
    const shape = statementPredicates(
      'SELECT name FROM silver.customers WHERE id IN (SELECT customer_id FROM silver.orders WHERE total > 100)',
      null,
      context,
    )
    expect(shape.joins).toEqual([{ relation: 'silver.customers', column: 'id' }])
    expect(shape.predicates).toEqual([
      { relation: 'silver.orders', column: 'total', operator: 'range', disjunctive: false },
    ])
  })
})
