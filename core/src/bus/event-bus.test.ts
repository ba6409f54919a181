import { describe, expect, it } from 'vitest'
import { EventBus } from './event-bus.js'
import type { QueryEvent } from './query-event.js'

const event = (): QueryEvent => ({
  at: 1,
  database: 'cairn',
  user: 'analyst',
  applicationName: 'psql',
  sessionId: 's1',
  fingerprint: 'abc',
  normalizedText: 'select $1',
  kind: 'select',
  relationsRead: ['gold.daily_sales'],
  relationsWritten: [],
  deterministic: true,
  nondeterministicReasons: [],
  columns: [],
  durationMs: 2,
  poolWaitMs: 0,
  rows: 1,
  bytesOut: 10,
})

describe('EventBus', () => {
  it('delivers deep-frozen events that no subscriber can change', () => {
    const bus = new EventBus()
    const seen: QueryEvent[] = []
    bus.subscribe('query', (e) => seen.push(e))
    bus.publish('query', event())
    expect(seen).toHaveLength(1)
    const received = seen[0] as QueryEvent
    expect(received.fingerprint).toBe('abc')
    expect(Object.isFrozen(received)).toBe(true)
    expect(Object.isFrozen(received.relationsRead)).toBe(true)
    expect(() => (received.relationsRead as string[]).push('x')).toThrow(TypeError)
  })

  it('isolates a throwing subscriber: the others still receive, the error is reported', () => {
    const reported: unknown[] = []
    const bus = new EventBus((err) => reported.push(err))
    const seen: string[] = []
    bus.subscribe('query', () => {
      throw new Error('bad agent')
    })
    bus.subscribe('query', (e) => seen.push(e.fingerprint))
    bus.publish('query', event())
    bus.publish('query', event())
    expect(seen).toEqual(['abc', 'abc'])
    expect(reported).toHaveLength(2)
    expect((reported[0] as Error).message).toBe('bad agent')
  })

  it('gives a finding an id and a time, and keeps its reason', () => {
    const bus = new EventBus()
    const findings: string[] = []
    bus.findings$.subscribe((f) => findings.push(`${f.source}:${f.reason}`))
    const f = bus.publishFinding({
      kind: 'test',
      source: 'unit',
      reason: 'nothing to do',
      severity: 'info',
      evidence: {},
    })
    expect(f.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(f.at).toBeGreaterThan(0)
    expect(findings).toEqual(['unit:nothing to do'])
  })
})
