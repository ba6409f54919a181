import { createLogger, EventBus, metricsRegistry, type QueryEvent } from '@cairn/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadSqlParser } from '../analysis/analyze-sql.js'
import { RelationResolver } from '../analysis/relation-resolver.js'
import type { StatementRecord } from './statement-record.js'
import { TelemetryPipeline } from './telemetry-pipeline.js'

beforeAll(async () => {
  await loadSqlParser()
})

const record = (text: string, statementIndex = 0): StatementRecord => ({
  at: Date.now(),
  sessionId: 's',
  database: 'shop',
  user: 'ann',
  applicationName: 'test',
  searchPath: undefined,
  text,
  statementIndex,
  durationMs: 1,
  poolWaitMs: 0,
  rows: 1,
  bytesOut: 10,
  sqlstate: undefined,
})

async function drained(p: TelemetryPipeline) {
  while (p.queued > 0) await new Promise((r) => setImmediate(r))
}

describe('TelemetryPipeline', () => {
  it('publishes each statement of a multi-statement query as its own event, after the caller returned', async () => {
    const bus = new EventBus()
    const seen: QueryEvent[] = []
    bus.subscribe('query', (e) => seen.push(e))
    const p = new TelemetryPipeline({ bus, resolver: new RelationResolver(), log: createLogger({ level: 'silent' }) })
    p.record(record('select 1 from orders; select 2 from customers', 0))
    p.record(record('select 1 from orders; select 2 from customers', 1))
    p.record(record('this is not sql'))
    expect(seen).toHaveLength(0)
    await drained(p)
    expect(seen.map((e) => [e.normalizedText, e.relationsRead])).toEqual([
      ['select $1 from orders', ['public.orders']],
      ['select $1 from customers', ['public.customers']],
      ['this is not sql', []],
    ])
    expect(seen[2]).toMatchObject({ kind: 'unknown', deterministic: false })
  })

  it('drops and counts records beyond its queue instead of growing without bound', async () => {
    const bus = new EventBus()
    let published = 0
    bus.subscribe('query', () => published++)
    const p = new TelemetryPipeline({
      bus,
      resolver: new RelationResolver(),
      log: createLogger({ level: 'silent' }),
      maxQueue: 10,
    })
    const before = (await metricsRegistry.getSingleMetricAsString('cairn_proxy_telemetry_dropped_total')).match(
      / (\d+)$/m,
    )?.[1]
    for (let i = 0; i < 25; i++) p.record(record(`select ${i}`))
    await drained(p)
    const after = (await metricsRegistry.getSingleMetricAsString('cairn_proxy_telemetry_dropped_total')).match(
      / (\d+)$/m,
    )?.[1]
    expect(published).toBe(10)
    expect(Number(after) - Number(before ?? 0)).toBe(15)
  })
})
