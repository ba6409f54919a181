import { describe, expect, it } from 'vitest'
import { counter, metricsRegistry } from './metrics-registry.js'

describe('metrics registry', () => {
  it('returns the same metric for the same name and exposes it with cairn_ names', async () => {
    const a = counter({ name: 'cairn_test_events_total', help: 'test events' })
    const b = counter({ name: 'cairn_test_events_total', help: 'test events' })
    expect(a).toBe(b)
    a.inc(3)
    const text = await metricsRegistry.metrics()
    expect(text).toMatch(/^cairn_test_events_total 3$/m)
    expect(text).toMatch(/^cairn_process_cpu_seconds_total /m)
  })
})
