import { describe, expect, it } from 'vitest'
import { parsePgbenchSummary, parseTransactionLog, percentile, pgbenchError } from './pgbench.js'

const SUMMARY = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 14607
number of failed transactions: 0 (0.000%)
latency average = 3.041 ms
initial connection time = 223.884 ms
tps = 5261.279225 (without initial connection time)
`

describe('parsePgbenchSummary', () => {
  it('reads tps, average latency and the transaction count', () => {
    expect(parsePgbenchSummary(SUMMARY)).toEqual({ tps: 5261.279225, latencyAvgMs: 3.041, transactions: 14607 })
  })

  it('leaves out what is missing', () => {
    expect(parsePgbenchSummary('pgbench: error: connection to server failed')).toEqual({
      tps: undefined,
      latencyAvgMs: undefined,
      transactions: undefined,
    })
  })
})

describe('parseTransactionLog', () => {
  it('takes the third field as microseconds and skips failed or skipped transactions', () => {
    const log =
      '0 1 1520 0 1764112345 123456\n1 1 880 0 1764112345 123999\n2 4 failed 0 1764112346 5\n3 9 skipped 0 1 2\n'
    expect(parseTransactionLog(log)).toEqual([1.52, 0.88])
  })
})

describe('percentile', () => {
  it('is the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i)
    expect(percentile(values, 0.95)).toBe(95)
    expect(percentile([7], 0.95)).toBe(7)
    expect(percentile([], 0.95)).toBeUndefined()
  })
})

describe('pgbenchError', () => {
  it('gives each server error once with its count, and the clients that aborted', () => {
    const stderr = [
      'pgbench: error: ERROR:  prepared statement "P_0" already exists',
      'pgbench: error: ERROR:  prepared statement "P_0" already exists',
      'pgbench: error: client 15 script 0 aborted in command 1 query 0: ERROR:  prepared statement "P_0" does not exist',
      'pgbench:pgbench: error: client 3 script 0 aborted in command 1 query 0: ERROR:  prepared statement "P_0" does not exist',
      'pgbench: error: Run was aborted; the above results are incomplete.',
    ].join('\n')
    expect(pgbenchError(SUMMARY, stderr, 16, false)).toBe(
      '2 of 16 clients aborted; ERROR: prepared statement "P_0" already exists (×2); ' +
        'ERROR: prepared statement "P_0" does not exist (×2); Run was aborted; the above results are incomplete.',
    )
  })

  it('says when pgbench was killed', () => {
    expect(pgbenchError('', '', 16, true)).toMatch(/killed/)
  })
})
