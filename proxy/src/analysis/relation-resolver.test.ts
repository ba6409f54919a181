import { describe, expect, it } from 'vitest'
import { parseSearchPath, RelationResolver } from './relation-resolver.js'

describe('RelationResolver', () => {
  const r = new RelationResolver()
  r.load([
    { schema: 'public', name: 'orders' },
    { schema: 'sales', name: 'orders' },
    { schema: 'pg_catalog', name: 'pg_class' },
    { schema: 'analyst', name: 'scratch' },
  ])

  it('qualifies a name with the first schema on the search_path that has it, pg_catalog first', () => {
    expect(r.resolve({ name: 'orders' }, undefined, 'bob')).toBe('public.orders')
    expect(r.resolve({ name: 'orders' }, 'sales, public', 'bob')).toBe('sales.orders')
    expect(r.resolve({ name: 'pg_class' }, 'sales', 'bob')).toBe('pg_catalog.pg_class')
    expect(r.resolve({ name: 'scratch' }, undefined, 'analyst')).toBe('analyst.scratch')
    expect(r.resolve({ schema: 'gold', name: 'x' }, 'sales', 'bob')).toBe('gold.x')
  })

  it('sends an unknown name to the first existing schema on the path', () => {
    expect(r.resolve({ name: 'new_table' }, '"$user", sales', 'bob')).toBe('sales.new_table')
    expect(r.resolve({ name: 'new_table' }, undefined, 'nobody')).toBe('public.new_table')
  })

  it('parses search_path like PostgreSQL: $user, quoting, case', () => {
    expect(parseSearchPath('"$user", Public, "MiXed"', 'ann')).toEqual(['ann', 'public', 'MiXed'])
  })
})
