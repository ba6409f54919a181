import { deepFreeze, type EventBus, type Logger, type QueryEvent } from '@cairn/core'
import type { Agent } from '@cairn/plugins'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { map } from 'rxjs'
import { AgentHost, type AgentHostOptions } from './agent-host.js'
import { EventRelay } from './event-relay.js'
import { LeaderLock } from './leader-lock.js'

export interface AgentServiceOptions extends Omit<AgentHostOptions, 'bus' | 'log' | 'pool' | 'events$' | 'hostId'> {
  bus: EventBus
  log: Logger
  pool: pg.Pool
  databaseUrl: string
  /** The agents to run, made afresh each time this process becomes the leader. */
  agents(): Agent[]
  /**
   * Scale-out: with a Redis connection, this process forwards its query events to a Redis Stream
   * and runs the agents only while it holds the leader lock, reading every process's events.
   * Without one, it runs them itself on its in-process bus.
   */
  scaleOut?: {
    /** A connection to use, or a URL to open (and close on stop) one from. */
    redis: Redis | string
    stream?: string
    group?: string
    lockKey?: string
    retryMs?: number
  }
  hostId: string
}

export interface AgentService {
  /** The running host: always without scale-out; only while leading with it. */
  readonly host: AgentHost | undefined
  readonly isLeader: boolean
  stop(): Promise<void>
}

/** Runs the agent host, alone or (scaled out) on the one process that holds the leader lock. */
export async function startAgentService(options: AgentServiceOptions): Promise<AgentService> {
  const { bus, log, pool, agents, scaleOut, hostId, databaseUrl, ...hostOptions } = options
  let host: AgentHost | undefined
  const lead = async (events$?: AgentHostOptions['events$']) => {
    const h = new AgentHost({ ...hostOptions, bus, log, pool, hostId, ...(events$ ? { events$ } : {}) })
    h.register(...agents())
    host = h
    await h.start()
  }
  if (!scaleOut) {
    await lead()
    return {
      get host() {
        return host
      },
      isLeader: true,
      async stop() {
        await host?.stop()
      },
    }
  }
  const redis = typeof scaleOut.redis === 'string' ? new Redis(scaleOut.redis, { lazyConnect: true }) : scaleOut.redis
  if (typeof scaleOut.redis === 'string') {
    redis.on('error', (err) => log.warn({ err }, 'agent relay: Redis connection error'))
    await redis.connect()
  }
  const relay = new EventRelay({
    redis,
    log,
    consumer: hostId,
    ...(scaleOut.stream ? { stream: scaleOut.stream } : {}),
    ...(scaleOut.group ? { group: scaleOut.group } : {}),
  })
  const forwarding = relay.forward(bus.events$)
  let reader: EventRelay | undefined
  const lock = new LeaderLock({
    databaseUrl,
    log,
    ...(scaleOut.lockKey ? { key: scaleOut.lockKey } : {}),
    ...(scaleOut.retryMs ? { retryMs: scaleOut.retryMs } : {}),
    onElected: async () => {
      reader = new EventRelay({
        redis,
        log,
        consumer: hostId,
        ...(scaleOut.stream ? { stream: scaleOut.stream } : {}),
        ...(scaleOut.group ? { group: scaleOut.group } : {}),
      })
      // Relayed events arrive as plain JSON: frozen like the bus's own.
      await lead(reader.consume().pipe(map((e) => deepFreeze(e) as QueryEvent)))
    },
    onDeposed: async () => {
      await reader?.stop()
      reader = undefined
      const h = host
      host = undefined
      await h?.stop()
    },
  })
  await lock.start()
  return {
    get host() {
      return host
    },
    get isLeader() {
      return lock.isLeader
    },
    async stop() {
      await lock.stop()
      forwarding.unsubscribe()
      await relay.stop()
      if (typeof scaleOut.redis === 'string') redis.disconnect()
    },
  }
}
