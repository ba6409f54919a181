import { describe, expect, it } from 'vitest'
import type { PgbenchResult, QueryMode } from './pgbench.js'
import { markdownTable, median, type RunRecord, summarize, type Target } from './report.js'

function run(target: Target, mode: QueryMode, tps: number | undefined, poolerCpuPct?: number): RunRecord {
  const result: PgbenchResult = {
    ok: tps !== undefined,
    tps,
    latencyAvgMs: tps === undefined ? undefined : 16_000 / tps,
    p95Ms: tps === undefined ? undefined : 32_000 / tps,
    transactions: tps === undefined ? undefined : tps * 10,
    sampled: 100,
    error: tps === undefined ? 'ERROR: prepared statement "P_0" does not exist' : undefined,
    exitCode: tps === undefined ? 2 : 0,
  }
  return { round: 1, target, mode, result, poolerCpuPct, hostCpuPct: 100 }
}

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeUndefined()
  })
})

describe('summarize', () => {
  const runs = [
    run('direct', 'simple', 10_000),
    run('direct', 'simple', 12_000),
    run('direct', 'simple', 11_000),
    run('nodepipe', 'simple', 10_000, 40),
    run('cairn', 'simple', 5_000, 50),
    run('pgbouncer', 'simple', 8_000, 40),
    run('direct', 'prepared', 12_000),
    run('cairn', 'prepared', 6_000, 60),
    run('pgbouncer', 'prepared', undefined, 30),
    run('pgbouncer', 'prepared', undefined, 30),
  ]
  const rows = summarize(runs)
  const row = (target: Target, mode: QueryMode) => rows.find((r) => r.target === target && r.mode === mode)

  it('takes medians over the runs that succeeded and ratios against direct, the Node pipe and PgBouncer', () => {
    expect(row('direct', 'simple')).toMatchObject({ tps: 11_000, runs: 3, ok: 3, vsDirect: 1 })
    expect(row('cairn', 'simple')).toMatchObject({
      tps: 5_000,
      vsDirect: 5_000 / 11_000,
      cairnVsNodePipe: 5_000 / 10_000,
      cairnVsPgbouncer: 5_000 / 8_000,
    })
    expect(row('cairn', 'simple')?.poolerCpuUsPerTx).toBeCloseTo(100)
    expect(row('nodepipe', 'simple')).toMatchObject({ tps: 10_000, cairnVsNodePipe: undefined })
    expect(row('pgbouncer', 'simple')?.cairnVsPgbouncer).toBeUndefined()
  })

  it('names the Node pipe with its worker count when it has several', () => {
    expect(markdownTable(rows)).toMatch(/\| Node TCP pipe +\| simple +\| +10000 \|/)
    expect(markdownTable(rows, 2)).toMatch(/\| Node TCP pipe \(2 workers\) +\| simple +\|/)
  })

  it('keeps a failed target as failed, with its error', () => {
    expect(row('pgbouncer', 'prepared')).toMatchObject({ tps: undefined, ok: 0, runs: 2 })
    expect(row('pgbouncer', 'prepared')?.errors).toEqual([
      'ERROR: prepared statement "P_0" does not exist (the like in 2 of 2 runs)',
    ])
    expect(row('cairn', 'prepared')?.cairnVsPgbouncer).toBeUndefined()
    expect(row('nodepipe', 'prepared')).toMatchObject({ tps: undefined, runs: 0 })
    expect(markdownTable(rows)).toMatch(/\| PgBouncer +\| prepared +\| +failed \|/)
  })
})
