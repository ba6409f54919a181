import type { Logger } from '@cairn/core'
import { defineSourcePlugin, type SourceBatch } from '@cairn/plugins'
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs'
import { z } from 'zod'
import { ENTITY_NAME, recordFromJson, unparseable } from './raw-records.js'

/**
 * The Kafka source (kafkajs): one topic per entity, read by a consumer group, each message's value a
 * JSON record (anything else becomes an `{ "_unparseable", "_error" }` record, as in the other sources).
 *
 * Offsets are committed by hand (`autoCommit: false`), after the batch is committed in bronze (its
 * `ack`), so a crash re-reads from the last committed offset. Kafka does not re-fetch along the same
 * batch boundaries, so the batch id (`kafka:<topic>:<partition>:<first>:<last>`) alone would not spot
 * a batch already loaded; the last offset loaded per partition is therefore also stored as a checkpoint
 * in the same transaction, and messages at or below it are committed without being loaded again.
 *
 * A run ends when no message has arrived for `idleMs` after joining the group, or with `follow: true`
 * when the run's signal aborts.
 *
 * There is no broker in the test environment: this source is not tested end to end (only its
 * configuration is).
 */

const kafkaConfigSchema = z.strictObject({
  brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).min(1),
  /** entity → topic */
  topics: z
    .record(z.string().regex(ENTITY_NAME, 'an entity name: lower case, digits, _'), z.string().min(1))
    .refine((t) => Object.keys(t).length > 0, 'at least one entity → topic')
    .refine((t) => new Set(Object.values(t)).size === Object.keys(t).length, 'two entities read the same topic'),
  groupId: z.string().min(1),
  clientId: z.string().min(1).default('cairn'),
  batchSize: z.number().int().min(1).max(100_000).default(1000),
  /** Where a new consumer group starts: the earliest offset (default), not only new messages. */
  fromBeginning: z.boolean().default(true),
  idleMs: z.number().int().min(100).max(600_000).default(5000),
  follow: z.boolean().default(false),
})

export type KafkaSourceConfig = z.output<typeof kafkaConfigSchema>

export const kafkaSource = defineSourcePlugin({
  meta: {
    name: 'kafka',
    version: '1.0.0',
    description: 'Kafka topics through a consumer group; offsets are committed after the bronze commit',
  },
  configSchema: kafkaConfigSchema,
  create(config, { log }) {
    const entityOf = new Map(Object.entries(config.topics).map(([entity, topic]) => [topic, entity]))
    const kafka = new Kafka({ clientId: config.clientId, brokers: config.brokers, logCreator: kafkaLog(log) })
    return {
      async *read(ctx) {
        const consumer = kafka.consumer({ groupId: config.groupId })
        const queue: SourceBatch[] = []
        let wake = (): void => {}
        let failure: unknown
        let joined = false
        let lastActivity = Date.now()
        let stop = (): void => {}
        const stopped = new Promise<void>((resolve) => {
          stop = resolve
        })
        consumer.on(consumer.events.GROUP_JOIN, () => {
          joined = true
          lastActivity = Date.now()
        })
        consumer.on(consumer.events.CRASH, (event) => {
          failure = event.payload.error
          wake()
        })
        await consumer.connect()
        try {
          await consumer.subscribe({ topics: [...entityOf.keys()], fromBeginning: config.fromBeginning })
          await consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
              const { topic, partition } = batch
              const key = `${topic}:${partition}`
              const loadedUpTo = ctx.checkpoints.get(key)
              const commit = (offset: string) =>
                consumer.commitOffsets([{ topic, partition, offset: (BigInt(offset) + 1n).toString() }])
              const fresh = batch.messages.filter(
                (m) => loadedUpTo === undefined || BigInt(m.offset) > BigInt(loadedUpTo),
              )
              if (fresh.length < batch.messages.length && loadedUpTo !== undefined) {
                await commit(loadedUpTo)
                resolveOffset(loadedUpTo)
              }
              for (let i = 0; i < fresh.length && isRunning() && !isStale(); i += config.batchSize) {
                const chunk = fresh.slice(i, i + config.batchSize)
                const first = (chunk[0] as KafkaMessage).offset
                const last = (chunk[chunk.length - 1] as KafkaMessage).offset
                let acked = (): void => {}
                const done = new Promise<void>((resolve) => {
                  acked = resolve
                })
                queue.push({
                  id: `kafka:${topic}:${partition}:${first}:${last}`,
                  entity: entityOf.get(topic) as string,
                  records: chunk.map(recordOf),
                  position: `${topic}[${partition}]@${first}-${last}`,
                  checkpoint: { key, value: last },
                  ack: async () => {
                    await commit(last)
                    acked()
                  },
                })
                wake()
                const beat = setInterval(() => heartbeat().catch(() => {}), 3000)
                try {
                  if ((await Promise.race([done.then(() => true), stopped.then(() => false)])) === false) return
                } finally {
                  clearInterval(beat)
                }
                // The next fetch of this partition starts after it (kafkajs fetches from resolved offsets).
                resolveOffset(last)
              }
            },
          })
          while (!ctx.signal.aborted) {
            if (failure !== undefined) throw failure
            const next = queue.shift()
            if (next) {
              yield next
              lastActivity = Date.now()
              continue
            }
            if (!config.follow && joined && Date.now() - lastActivity >= config.idleMs) return
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 250)
              wake = () => {
                clearTimeout(timer)
                resolve()
              }
            })
          }
        } finally {
          stop()
          await consumer.disconnect()
        }
      },
    }
  },
})

function recordOf(message: KafkaMessage): unknown {
  if (message.value === null) return unparseable('', `message at offset ${message.offset} has no value`)
  return recordFromJson(message.value.toString('utf8'))
}

function kafkaLog(log: Logger) {
  return () =>
    ({
      level,
      namespace,
      log: { message, ...extra },
    }: {
      level: logLevel
      namespace: string
      log: { message: string }
    }) => {
      const fields = { kafka: namespace, ...extra }
      if (level === logLevel.ERROR) log.error(fields, message)
      else if (level === logLevel.WARN) log.warn(fields, message)
      else log.debug(fields, message)
    }
}
