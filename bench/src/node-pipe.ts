import { fileURLToPath } from 'node:url'
import { startNodeChild } from './node-child.js'

export interface NodePipe {
  port: number
  /** The process started: the only one, or the cluster's primary. */
  pid: number
  workers: number
  /** Every process of the pipe (the primary and its workers), whose CPU is its CPU. */
  pids: number[]
  stop(): Promise<void>
}

const ENTRY = fileURLToPath(new URL('./node-pipe-child.js', import.meta.url))

/**
 * Starts the Node TCP pipe (node-pipe-child.ts) in a process of its own, in
 * front of PostgreSQL at `upstream`: one process, or a node:cluster primary
 * with `workers` workers on one port.
 */
export async function startNodePipe(
  upstream: { host: string; port: number },
  workers: number,
  timeoutMs = 30_000,
): Promise<NodePipe> {
  const child = await startNodeChild(ENTRY, {
    label: 'node-pipe',
    env: {
      ...process.env,
      BENCH_PIPE_UPSTREAM_HOST: upstream.host,
      BENCH_PIPE_UPSTREAM_PORT: String(upstream.port),
      BENCH_PIPE_WORKERS: String(workers),
      BENCH_PIPE_PORT: '0',
    },
    timeoutMs,
  })
  const { workerPids } = child.ready
  const others = Array.isArray(workerPids) ? workerPids.filter((pid): pid is number => typeof pid === 'number') : []
  return {
    port: child.port,
    pid: child.pid,
    workers,
    pids: [child.pid, ...others],
    stop: () => child.stop(),
  }
}
