import { fileURLToPath } from 'node:url'
import { type ChildMessage, startNodeChild } from './node-child.js'

export interface TelemetryCounts {
  records: number | undefined
  events: number | undefined
  /** Per hosted agent (BENCH_PROXY_AGENTS), the events it handled and the ones it fell too far behind to see. */
  agents?: { name: string; seen: number; dropped: number }[]
}

export interface ProxyChild {
  port: number
  pid: number
  telemetry: string
  /** Stops the proxy; resolves with how many statement records its telemetry took and how many events it published. */
  stop(): Promise<TelemetryCounts>
}

const ENTRY = fileURLToPath(new URL('./proxy-process.js', import.meta.url))

const count = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined)

/**
 * Starts Cairn's proxy in a Node process of its own (proxy-process.ts), so
 * nothing the bench driver does runs on the proxy's event loop.
 */
export async function startProxyChild(
  databaseUrl: string,
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = {},
): Promise<ProxyChild> {
  const counts: TelemetryCounts = { records: undefined, events: undefined }
  const child = await startNodeChild(ENTRY, {
    label: 'proxy',
    env: { ...process.env, ...env, CAIRN_DATABASE_URL: databaseUrl },
    timeoutMs,
    onMessage(message: ChildMessage) {
      if (message.stopped !== true) return
      counts.records = count(message.records)
      counts.events = count(message.events)
      if (Array.isArray(message.agents)) counts.agents = message.agents as TelemetryCounts['agents']
    },
  })
  return {
    port: child.port,
    pid: child.pid,
    telemetry: typeof child.ready.telemetry === 'string' ? child.ready.telemetry : 'unknown',
    stop: () => child.stop().then(() => counts),
  }
}
