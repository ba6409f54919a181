import { describe, expect, it } from 'vitest'
import { normalizeSql } from './normalize-sql.js'

describe('normalizeSql', () => {
  it.each([
    ['SELECT abalance FROM pgbench_accounts WHERE aid = 42;', 'select abalance from pgbench_accounts where aid = $1;'],
    ["select * from t where id in (1, 2, 3) and name = 'o''brien'", 'select * from t where id in ($1) and name = $2'],
    ['select x from t where a > -5 and b = 1.5e3', 'select x from t where a > $1 and b = $2'],
    ['select 1 -- comment\n /* block /* nested */ */ from t', 'select $1 from t'],
    ["select $$body$$, $tag$x$tag$, E'a\\'b'", 'select $1, $2, $3'],
    ['select a - 1 from "Mixed Case"."T"', 'select a - $1 from "Mixed Case"."T"'],
    ['select $1::int, f(1, 2) from t', 'select $1::int, f($2, $3) from t'],
  ])('%j → %j', (sql, normalized) => {
    expect(normalizeSql(sql).text).toBe(normalized)
  })

  it('gives statements that differ only in constants, case and spacing the same text', () => {
    const a = normalizeSql("SELECT  sum(total) FROM orders WHERE status = 'paid' AND id IN (1,2)")
    const b = normalizeSql("select sum(total)\nfrom orders where status='open' and id in (7, 8, 9, 10)")
    expect(a.text).toBe(b.text)
  })
})
