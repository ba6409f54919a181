/**
 * The Node TCP pipe, the proxy benchmark's baseline for Node's own I/O: it
 * listens on a free loopback port and, for each client, opens one connection
 * to PostgreSQL and copies bytes both ways (`client.pipe(server)`,
 * `server.pipe(client)`, no Nagle), with no parsing, pooling or logic of any
 * kind; when either side closes or fails, the other is destroyed. Session
 * passthrough: one PostgreSQL connection per client.
 *
 * With BENCH_PIPE_WORKERS > 1 the process is a node:cluster primary that forks
 * that many workers, which all listen on the one port; the primary accepts and
 * hands the connections out round-robin. It prints
 * `{"port":…,"pid":…,"workers":…,"workerPids":[…]}` as one JSON line on stdout
 * once listening (workerPids empty for a single process) and exits on SIGTERM,
 * SIGINT or the end of stdin (its parent gone), workers included.
 *
 *   BENCH_PIPE_UPSTREAM_HOST=127.0.0.1 BENCH_PIPE_UPSTREAM_PORT=54329 node dist/node-pipe-child.js
 *
 * Settings (environment): BENCH_PIPE_UPSTREAM_HOST (127.0.0.1), BENCH_PIPE_UPSTREAM_PORT (5432),
 * BENCH_PIPE_WORKERS (1), BENCH_PIPE_PORT (0: any free port).
 */
import cluster, { type Worker } from 'node:cluster'
import { connect, createServer, type Socket } from 'node:net'

const HOST = '127.0.0.1'

interface Upstream {
  host: string
  port: number
}

function integerEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, not "${raw}"`)
  return value
}

/** Copies bytes between one client and a PostgreSQL connection of its own until either side goes. */
function passThrough(client: Socket, upstream: Upstream): void {
  const server = connect(upstream)
  client.setNoDelay(true)
  server.setNoDelay(true)
  const close = (): void => {
    client.destroy()
    server.destroy()
  }
  client.on('error', close).on('close', close)
  server.on('error', close).on('close', close)
  client.pipe(server)
  server.pipe(client)
}

function listen(upstream: Upstream, port: number): Promise<number> {
  const server = createServer((client) => passThrough(client, upstream))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, HOST, () => {
      const address = server.address()
      if (typeof address === 'object' && address) resolve(address.port)
      else reject(new Error(`no port for ${String(address)}`))
    })
  })
}

function report(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

function onStop(stop: () => void): void {
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.stdin.once('end', stop)
  process.stdin.resume()
}

/** Forks the workers, waits for all of them to listen on the one port, and reports it. */
async function runPrimary(workers: number): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_RR
  let stopping = false
  const forked: Worker[] = []
  const exited = (worker: Worker) =>
    new Promise<void>((resolve) => {
      if (worker.isDead()) resolve()
      else worker.once('exit', () => resolve())
    })
  const stop = async (code: number): Promise<void> => {
    if (stopping) return
    stopping = true
    for (const worker of forked) worker.process.kill('SIGTERM')
    await Promise.all(forked.map(exited))
    process.exit(code)
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    // A pipe short of a worker would measure something else: stop, so the runs against it fail visibly.
    console.error(`node-pipe: worker ${worker.process.pid} exited (${code ?? signal}); stopping`)
    void stop(1)
  })
  const ports = new Promise<number[]>((resolve) => {
    const seen: number[] = []
    cluster.on('listening', (_worker, address) => {
      seen.push(address.port)
      if (seen.length === workers) resolve(seen)
    })
  })
  for (let i = 0; i < workers; i++) forked.push(cluster.fork())
  onStop(() => void stop(0))
  const [port, ...others] = await ports
  if (port === undefined || others.some((p) => p !== port)) {
    console.error(`node-pipe: the workers listen on different ports (${[port, ...others].join(', ')})`)
    return stop(1)
  }
  report({
    port,
    pid: process.pid,
    workers,
    workerPids: forked.map((w) => w.process.pid).filter((pid): pid is number => pid !== undefined),
  })
}

async function main(): Promise<void> {
  const upstream: Upstream = {
    host: process.env.BENCH_PIPE_UPSTREAM_HOST || '127.0.0.1',
    port: integerEnv('BENCH_PIPE_UPSTREAM_PORT', 5432, 1),
  }
  const workers = integerEnv('BENCH_PIPE_WORKERS', 1, 1)
  const port = integerEnv('BENCH_PIPE_PORT', 0, 0)
  if (cluster.isWorker) {
    // The primary ends a worker with SIGTERM; Node's default for it is to exit, connections and all.
    await listen(upstream, port)
  } else if (workers > 1) {
    await runPrimary(workers)
  } else {
    const listening = await listen(upstream, port)
    onStop(() => process.exit(0))
    report({ port: listening, pid: process.pid, workers, workerPids: [] })
  }
}

main().catch((err: unknown) => {
  console.error(`node-pipe: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
