import { counter, type Logger, type QueryEvent } from '@cairn/core'
import type { Redis } from 'ioredis'
import { type Observable, Subject, type Subscription } from 'rxjs'

export interface EventRelayOptions {
  /** A connection for writes. Reads block, so the relay duplicates it for them. */
  redis: Redis
  log: Logger
  /** Default `cairn:query-events`. */
  stream?: string
  /** Default `cairn-agents`. */
  group?: string
  /** This process's consumer name. */
  consumer: string
  /** Approximate cap of the stream. Default 100,000 entries. */
  maxLen?: number
  /** Pending entries idle this long (their consumer died) are claimed. Default 30 s. */
  claimIdleMs?: number
}

const relayed = counter({ name: 'cairn_agent_events_relayed_total', help: 'Query events added to the Redis stream' })
const relayFailures = counter({
  name: 'cairn_agent_events_relay_failures_total',
  help: 'Query events that could not be added to the Redis stream',
})

/**
 * Scale-out: every Cairn process forwards its query events to one Redis
 * Stream; the leader reads them through one consumer group and hands them to
 * its agent host, acknowledging each read batch once handed over. A new leader
 * claims what its predecessor had read but not acknowledged.
 */
export class EventRelay {
  readonly #stream: string
  readonly #group: string
  #reader: Redis | undefined
  #consuming = false
  #pending: QueryEvent[] = []
  #flushScheduled = false

  constructor(private readonly options: EventRelayOptions) {
    this.#stream = options.stream ?? 'cairn:query-events'
    this.#group = options.group ?? 'cairn-agents'
  }

  /** Forwards events to the stream, batched per turn of the event loop. */
  forward(events$: Observable<QueryEvent>): Subscription {
    return events$.subscribe((event) => {
      this.#pending.push(event)
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(() => void this.#flush())
      }
    })
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false
    const batch = this.#pending
    this.#pending = []
    const pipeline = this.options.redis.pipeline()
    for (const event of batch)
      pipeline.xadd(this.#stream, 'MAXLEN', '~', this.options.maxLen ?? 100_000, '*', 'e', JSON.stringify(event))
    try {
      const results = (await pipeline.exec()) ?? []
      const failed = results.filter(([err]) => err).length
      relayed.inc(batch.length - failed)
      if (failed) relayFailures.inc(failed)
    } catch (err) {
      relayFailures.inc(batch.length)
      this.options.log.warn({ err, events: batch.length }, 'could not relay query events to Redis')
    }
  }

  /** The events of every process, for the leader's host. Reading stops with `stop()`. */
  consume(): Observable<QueryEvent> {
    const subject = new Subject<QueryEvent>()
    this.#consuming = true
    void this.#readLoop(subject)
    return subject.asObservable()
  }

  async #readLoop(subject: Subject<QueryEvent>): Promise<void> {
    const { log, consumer } = this.options
    const reader = this.options.redis.duplicate()
    reader.on('error', () => {})
    this.#reader = reader
    try {
      await reader
        .xgroup('CREATE', this.#stream, this.#group, '0', 'MKSTREAM')
        .catch((err: Error) => (/BUSYGROUP/.test(err.message) ? undefined : Promise.reject(err)))
      // What a dead leader read but never acknowledged comes first.
      const claimed = (await reader.xautoclaim(
        this.#stream,
        this.#group,
        consumer,
        this.options.claimIdleMs ?? 30_000,
        '0',
        'COUNT',
        1000,
      )) as [string, [string, string[]][]]
      this.#emit(subject, claimed[1])
      await this.#ack(reader, claimed[1])
      let own = '0' // first this consumer's own unacknowledged entries, then new ones
      while (this.#consuming) {
        const res = (await reader.xreadgroup(
          'GROUP',
          this.#group,
          consumer,
          'COUNT',
          500,
          'BLOCK',
          1000,
          'STREAMS',
          this.#stream,
          own,
        )) as [string, [string, string[]][]][] | null
        const entries = res?.[0]?.[1] ?? []
        if (own === '0' && entries.length === 0) own = '>'
        this.#emit(subject, entries)
        await this.#ack(reader, entries)
      }
    } catch (err) {
      if (this.#consuming) log.error({ err }, 'the query event relay stopped reading')
    } finally {
      subject.complete()
    }
  }

  #emit(subject: Subject<QueryEvent>, entries: [string, string[]][]): void {
    for (const [, fields] of entries) {
      const i = fields.indexOf('e')
      if (i < 0) continue
      try {
        subject.next(JSON.parse(fields[i + 1] as string) as QueryEvent)
      } catch (err) {
        this.options.log.warn({ err }, 'skipped an unreadable relayed event')
      }
    }
  }

  async #ack(reader: Redis, entries: [string, string[]][]): Promise<void> {
    if (entries.length > 0) await reader.xack(this.#stream, this.#group, ...entries.map(([id]) => id))
  }

  async stop(): Promise<void> {
    this.#consuming = false
    if (this.#pending.length) await this.#flush()
    this.#reader?.disconnect()
    this.#reader = undefined
  }
}
