import { describe, expect, it } from 'vitest'
import { CairnError, isCairnError } from './cairn-error.js'
import { errors } from './error-codes.js'

describe('coded errors', () => {
  const all = Object.values(errors)

  it('has one unique CAIRN_ERR_* code per entry, an HTTP status and a well-formed SQLSTATE where set', () => {
    expect(new Set(all.map((e) => e.code)).size).toBe(all.length)
    for (const e of all) {
      expect(e.code).toMatch(/^CAIRN_ERR_[A-Z_]+$/)
      expect(e.statusCode).toBeGreaterThanOrEqual(400)
      expect(e.statusCode).toBeLessThan(600)
      if (e.sqlstate !== undefined) expect(e.sqlstate).toMatch(/^[0-9A-Z]{5}$/)
    }
  })

  it('builds a CairnError carrying code, status, SQLSTATE, detail and cause', () => {
    const cause = new Error('boom')
    const err = errors.AUTH_FAILED('user "bob"', { cause })
    expect(err).toBeInstanceOf(CairnError)
    expect(err).toBeInstanceOf(Error)
    expect(err.message).toBe('Password authentication failed: user "bob"')
    expect(err.code).toBe('CAIRN_ERR_AUTH_FAILED')
    expect(err.sqlstate).toBe('28P01')
    expect(err.statusCode).toBe(401)
    expect(err.cause).toBe(cause)
    expect(isCairnError(err, 'CAIRN_ERR_AUTH_FAILED')).toBe(true)
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID')).toBe(false)
    expect(isCairnError(new Error('x'))).toBe(false)
  })
})
