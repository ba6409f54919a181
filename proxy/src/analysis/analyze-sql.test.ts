import { beforeAll, describe, expect, it } from 'vitest'
import { analyzeSql, loadSqlParser } from './analyze-sql.js'

beforeAll(async () => {
  await loadSqlParser()
})

describe('analyzeSql', () => {
  it('splits several statements and describes each', () => {
    const [a, b, c] = analyzeSql(
      "update silver.orders set status = 'x' where order_id = 5; select * from t for update; begin",
    )
    expect(a).toMatchObject({
      kind: 'update',
      relationsWritten: [{ schema: 'silver', name: 'orders' }],
      deterministic: true,
    })
    expect(a?.text).toBe("update silver.orders set status = 'x' where order_id = 5")
    expect(a?.columns).toEqual([
      { relation: { schema: 'silver', name: 'orders' }, column: 'order_id', role: 'predicate' },
    ])
    expect(b).toMatchObject({ kind: 'select', deterministic: false, nondeterministicReasons: ['FOR UPDATE/SHARE'] })
    expect(c).toMatchObject({ kind: 'transaction' })
  })

  it('ties columns to relations through aliases, joins, GROUP BY position and subqueries', () => {
    const [s] = analyzeSql(
      `select c.country, sum(o.total_amount) from silver.orders o join silver.customers c on c.customer_id = o.customer_id
       where o.status = 'paid' and o.order_id in (select order_id from silver.payments p where p.amount > 10)
       group by 1 order by 2 desc`,
    )
    const orders = { schema: 'silver', name: 'orders' }
    const customers = { schema: 'silver', name: 'customers' }
    expect(s?.relationsRead).toEqual([orders, customers, { schema: 'silver', name: 'payments' }])
    expect(s?.columns).toEqual(
      expect.arrayContaining([
        { relation: customers, column: 'customer_id', role: 'join' },
        { relation: orders, column: 'customer_id', role: 'join' },
        { relation: orders, column: 'status', role: 'predicate' },
        { relation: orders, column: 'order_id', role: 'predicate' },
        { relation: { schema: 'silver', name: 'payments' }, column: 'amount', role: 'predicate' },
        { relation: customers, column: 'country', role: 'groupBy' },
        { relation: orders, column: 'total_amount', role: 'orderBy' },
      ]),
    )
    expect(s?.deterministic).toBe(true)
  })

  it('marks volatile functions, the clock and temporary tables as not deterministic, and leaves CTE names out of relations', () => {
    const [a] = analyzeSql(
      `with recent as (select * from orders where ts > now() - interval '1 day') select count(*) from recent`,
    )
    expect(a?.relationsRead).toEqual([{ name: 'orders' }])
    expect(a?.nondeterministicReasons).toEqual(['calls now()'])
    expect(analyzeSql('select current_date')[0]?.nondeterministicReasons).toEqual(['reads the clock'])
    expect(analyzeSql('select random() from t')[0]?.deterministic).toBe(false)
    expect(analyzeSql('create temp table x as select 1')[0]?.nondeterministicReasons).toContain('temporary table')
    expect(analyzeSql('insert into gold.daily_sales select * from silver.orders')[0]).toMatchObject({
      kind: 'insert',
      relationsRead: [{ schema: 'silver', name: 'orders' }],
      relationsWritten: [{ schema: 'gold', name: 'daily_sales' }],
    })
  })

  it('throws on SQL the parser rejects', () => {
    expect(() => analyzeSql('selec 1')).toThrow(/syntax error/)
  })
})
