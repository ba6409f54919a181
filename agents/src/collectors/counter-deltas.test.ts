import { describe, expect, it } from 'vitest'
import { counterDeltas } from './counter-deltas.js'

const keys = ['calls', 'rows'] as const

describe('counterDeltas', () => {
  it('subtracts the previous reading', () => {
    expect(counterDeltas({ calls: 10, rows: 100 }, { calls: 13, rows: 130 }, keys)).toEqual({ calls: 3, rows: 30 })
  })

  it('counts a new entry whole', () => {
    expect(counterDeltas(undefined, { calls: 2, rows: 5 }, keys)).toEqual({ calls: 2, rows: 5 })
  })

  it('takes the new values as the increase when any counter went down (a reset)', () => {
    expect(counterDeltas({ calls: 10, rows: 100 }, { calls: 4, rows: 120 }, keys)).toEqual({ calls: 4, rows: 120 })
    expect(counterDeltas({ calls: 10, rows: 100 }, { calls: 12, rows: 7 }, keys)).toEqual({ calls: 12, rows: 7 })
  })
})
