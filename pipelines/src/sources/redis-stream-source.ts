import { hostname } from 'node:os'
import { errors } from '@cairn/core'
import { defineSourcePlugin, type SourceBatch, type SourceContext } from '@cairn/plugins'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { ENTITY_NAME, recordFromJson, unparseable } from './raw-records.js'

/**
 * The Redis Streams source: one stream per entity, read through a consumer group.
 *
 * Each entry carries its record as JSON in the field `payload`. An entry without it, or whose payload
 * is not a JSON object, becomes an `{ "_unparseable", "_error" }` record (silver quarantines it).
 *
 * Delivery: an entry is acknowledged (XACK) only after its batch is committed in bronze, so a crash
 * leaves it pending and it is read again; the batch id is the stream id range, so a batch committed
 * before the crash is recognised and not loaded twice. `read()`:
 *  1. creates the group when missing, at id `0` (not `$`): entries added before the group existed —
 *     by a producer that started first — are delivered, not skipped;
 *  2. re-reads this consumer's own pending entries (XREADGROUP … 0): the batch that was in flight
 *     when it stopped, same range, same id;
 *  3. claims (XCLAIM) the pending entries of other consumers of the group that have been idle for
 *     `claimIdleMs`, one consumer at a time and `batchSize` entries at a time — the batch a crashed
 *     process had in flight, again with the same range. This matters with the default consumer name
 *     (`<hostname>-<pid>`), which changes when the process restarts;
 *  4. reads new entries (XREADGROUP … >) until a read, blocking at most `blockMs`, returns nothing —
 *     or, with `follow: true`, until the run's signal aborts.
 * Every entry thus ends up in bronze once, provided `batchSize` is not changed while entries are
 * pending and nothing trims the stream below pending entries (a trimmed pending entry cannot be read
 * again; it is acknowledged with a warning). The Redis server must not evict keys (maxmemory-policy
 * `noeviction`): an evicted stream is data lost before it reaches bronze.
 */

const streamsSchema = z.union([
  z
    .array(z.string().regex(ENTITY_NAME, 'an entity name: lower case, digits, _'))
    .min(1)
    .transform((entities) => Object.fromEntries(entities.map((e) => [e, `cairn:ingest:${e}`]))),
  z
    .record(z.string().regex(ENTITY_NAME, 'an entity name: lower case, digits, _'), z.string().min(1))
    .refine((streams) => Object.keys(streams).length > 0, 'at least one entity → stream key'),
])

const redisStreamConfigSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
    /** entity → stream key, or a list of entities read from `cairn:ingest:<entity>`. */
    streams: streamsSchema,
    group: z.string().min(1).default('cairn'),
    consumer: z
      .string()
      .min(1)
      .default(() => `${hostname()}-${process.pid}`),
    batchSize: z.number().int().min(1).max(100_000).default(1000),
    /** How long a read of new entries waits for one (XREADGROUP BLOCK). */
    blockMs: z.number().int().min(1).max(60_000).default(100),
    /** Pending entries of another consumer idle this long are taken over. */
    claimIdleMs: z.number().int().min(0).default(60_000),
    /** Keep reading until the run's signal aborts, instead of stopping when the streams are drained. */
    follow: z.boolean().default(false),
  })
  .refine((c) => new Set(Object.values(c.streams)).size === Object.keys(c.streams).length, {
    message: 'two entities read the same stream',
    path: ['streams'],
  })

export type RedisStreamSourceConfig = z.output<typeof redisStreamConfigSchema>

interface Stream {
  readonly entity: string
  readonly key: string
}

/** One stream entry; `fields` is null when the entry was deleted while pending. */
interface Entry {
  readonly id: string
  readonly fields: readonly string[] | null
}

export const redisStreamSource = defineSourcePlugin({
  meta: {
    name: 'redis-stream',
    version: '1.0.0',
    description: 'Redis Streams through a consumer group; entries are acknowledged after the bronze commit',
  },
  configSchema: redisStreamConfigSchema,
  create(config, { log, instance }) {
    const { group, consumer, batchSize } = config
    const streams: Stream[] = Object.entries(config.streams).map(([entity, key]) => ({ entity, key }))
    const redis = new Redis(config.url, { lazyConnect: true, maxRetriesPerRequest: 2, connectionName: 'cairn-source' })
    // Errors surface on the commands; without a listener ioredis would also print each one.
    redis.on('error', () => {})

    const batch = (stream: Stream, entries: readonly Entry[]): SourceBatch => {
      const first = (entries[0] as Entry).id
      const last = (entries[entries.length - 1] as Entry).id
      const ids = entries.map((e) => e.id)
      const records: unknown[] = []
      for (const e of entries) {
        if (e.fields === null) {
          log.warn({ stream: stream.key, id: e.id }, 'redis-stream source: a pending entry was deleted; acknowledged')
        } else records.push(recordOf(e.fields))
      }
      return {
        id: `redis-stream:${instance}:${stream.key}:${first}:${last}`,
        entity: stream.entity,
        records,
        position: `${stream.key}:${first}-${last}`,
        ack: async () => {
          await redis.xack(stream.key, group, ...ids)
        },
      }
    }

    async function xreadgroup(args: (string | number)[]): Promise<Map<string, Entry[]>> {
      const reply = await redis.call('XREADGROUP', ['GROUP', group, consumer, 'COUNT', batchSize, ...args])
      const result = new Map<string, Entry[]>()
      for (const [key, entries] of (reply ?? []) as [string, [string, string[] | null][]][]) {
        result.set(
          key,
          entries.map(([id, fields]) => ({ id, fields })),
        )
      }
      return result
    }

    async function* ownPending(stream: Stream): AsyncGenerator<SourceBatch> {
      let after = '0'
      for (;;) {
        const entries = (await xreadgroup(['STREAMS', stream.key, after])).get(stream.key) ?? []
        if (entries.length === 0) return
        log.info({ stream: stream.key, entries: entries.length }, 'redis-stream source: redelivering pending entries')
        yield batch(stream, entries)
        after = (entries[entries.length - 1] as Entry).id
      }
    }

    async function* claimed(stream: Stream, signal: AbortSignal): AsyncGenerator<SourceBatch> {
      const others = (await consumersOf(stream.key)).filter((c) => c.name !== consumer && c.pending > 0)
      for (const other of others) {
        while (!signal.aborted) {
          const pending = (await redis.call('XPENDING', [
            stream.key,
            group,
            'IDLE',
            config.claimIdleMs,
            '-',
            '+',
            batchSize,
            other.name,
          ])) as [string, string, number, number][]
          if (pending.length === 0) break
          const reply = (await redis.call('XCLAIM', [
            stream.key,
            group,
            consumer,
            config.claimIdleMs,
            ...pending.map((p) => p[0]),
          ])) as [string, string[]][]
          if (reply.length === 0) break
          log.warn(
            { stream: stream.key, from: other.name, entries: reply.length },
            'redis-stream source: took over the pending entries of an idle consumer',
          )
          yield batch(
            stream,
            reply.map(([id, fields]) => ({ id, fields })),
          )
        }
      }
    }

    async function consumersOf(key: string): Promise<{ name: string; pending: number }[]> {
      const reply = (await redis.call('XINFO', ['CONSUMERS', key, group])) as (string | number)[][]
      return reply.map((flat) => {
        const info = new Map<string, string | number>()
        for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1] as string | number)
        return { name: String(info.get('name')), pending: Number(info.get('pending') ?? 0) }
      })
    }

    async function ensureGroup(key: string): Promise<void> {
      try {
        await redis.call('XGROUP', ['CREATE', key, group, '0', 'MKSTREAM'])
        log.info({ stream: key, group }, 'redis-stream source: created the consumer group')
      } catch (err) {
        if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err
      }
    }

    async function connect(): Promise<void> {
      try {
        if (redis.status === 'wait' || redis.status === 'end') await redis.connect()
        await redis.ping()
      } catch (cause) {
        throw errors.REDIS_UNAVAILABLE(`redis-stream source ${instance}: ${(cause as Error).message}`, { cause })
      }
    }

    return {
      async *read(ctx: SourceContext) {
        await connect()
        for (const stream of streams) await ensureGroup(stream.key)
        for (const stream of streams) yield* ownPending(stream)
        let claimedAt = Date.now()
        for (const stream of streams) yield* claimed(stream, ctx.signal)
        const keys = streams.map((s) => s.key)
        const byKey = new Map(streams.map((s) => [s.key, s]))
        while (!ctx.signal.aborted) {
          const read = await xreadgroup(['BLOCK', config.blockMs, 'STREAMS', ...keys, ...keys.map(() => '>')])
          let entries = 0
          for (const [key, list] of read) {
            if (list.length === 0) continue
            entries += list.length
            yield batch(byKey.get(key) as Stream, list)
          }
          if (entries > 0) continue
          if (!config.follow) return
          if (Date.now() - claimedAt >= Math.max(config.claimIdleMs, 1000)) {
            claimedAt = Date.now()
            for (const stream of streams) yield* claimed(stream, ctx.signal)
          }
        }
      },
      async close() {
        if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
        else redis.disconnect()
      },
    }
  },
})

function recordOf(fields: readonly string[]): unknown {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'payload') return recordFromJson(fields[i + 1] as string)
  }
  const all: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) all[fields[i] as string] = fields[i + 1] as string
  return unparseable(JSON.stringify(all), 'stream entry has no "payload" field')
}
