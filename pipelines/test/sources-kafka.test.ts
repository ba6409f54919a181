import { describe, expect, it } from 'vitest'
import { kafkaSource } from '../src/sources/kafka-source.js'

// There is no Kafka broker in the test environment: only the configuration is tested here.
describe('kafka source configuration', () => {
  it('accepts brokers, entity → topic and a group, with defaults', () => {
    const config = kafkaSource.configSchema.parse({
      brokers: ['localhost:9092'],
      topics: { clickstream_events: 'shop.clicks', orders: 'shop.orders' },
      groupId: 'cairn-bronze',
    })
    expect(config).toEqual({
      brokers: ['localhost:9092'],
      topics: { clickstream_events: 'shop.clicks', orders: 'shop.orders' },
      groupId: 'cairn-bronze',
      clientId: 'cairn',
      batchSize: 1000,
      fromBeginning: true,
      idleMs: 5000,
      follow: false,
    })
  })

  it('refuses what it cannot run', () => {
    const issues = (input: unknown) =>
      kafkaSource.configSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? []
    expect(issues({ brokers: [], topics: { orders: 't' }, groupId: 'g' })).toEqual([
      expect.stringMatching(/^brokers: /),
    ])
    expect(issues({ brokers: ['kafka'], topics: { orders: 't' }, groupId: 'g' })).toEqual(['brokers.0: host:port'])
    expect(issues({ brokers: ['k:9092'], topics: {}, groupId: 'g' })).toEqual(['topics: at least one entity → topic'])
    expect(issues({ brokers: ['k:9092'], topics: { a: 't', b: 't' }, groupId: 'g' })).toEqual([
      'topics: two entities read the same topic',
    ])
    expect(issues({ brokers: ['k:9092'], topics: { Orders: 't' }, groupId: 'g' })).toHaveLength(1)
    expect(issues({ brokers: ['k:9092'], topics: { orders: 't' } })).toEqual([expect.stringMatching(/^groupId: /)])
    expect(issues({ brokers: ['k:9092'], topics: { orders: 't' }, groupId: 'g', batchSize: 0 })).toHaveLength(1)
  })
})
