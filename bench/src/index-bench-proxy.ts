import { fileURLToPath } from 'node:url'
import { freePort } from './free-port.js'
import { startNodeChild } from './node-child.js'

export interface IndexBenchProxy {
  pid: number
  /** The database through the proxy, as the same user. */
  url: string
  stop(): Promise<void>
}

const ENTRY = fileURLToPath(new URL('./index-bench-proxy-process.js', import.meta.url))

/** Starts Cairn's proxy service (cache off, telemetry persisted) in a Node process of its own. */
export async function startIndexBenchProxy(databaseUrl: string): Promise<IndexBenchProxy> {
  const port = await freePort()
  const child = await startNodeChild(ENTRY, {
    label: 'proxy',
    env: {
      ...process.env,
      CAIRN_DATABASE_URL: databaseUrl,
      CAIRN_HOST: '127.0.0.1',
      CAIRN_PROXY_PORT: String(port),
      CAIRN_CACHE: 'off',
    },
  })
  const url = new URL(databaseUrl)
  url.hostname = '127.0.0.1'
  url.port = String(child.port)
  return { pid: child.pid, url: url.toString(), stop: child.stop }
}
