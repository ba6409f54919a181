import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import type { CacheRequest } from './cache-workload.js'

export interface PassResult {
  /** Client-side latency of each request, by its index in the sequence (ms); NaN for one that failed. */
  latenciesMs: number[]
  /** A digest of each answer's rows, to check that every target answers alike; '' for a request that failed. */
  answers: string[]
  errors: string[]
  wallMs: number
  /** CPU time of this process (where the clients run) while the requests ran, in ms. */
  clientCpuMs: number
}

/**
 * Sends the requests in order from `clients` concurrent connections (each takes
 * the next request when its last one is answered), as plain SQL with no values:
 * node-postgres then uses the simple query protocol. Latency is measured around
 * each query; connecting is not measured.
 */
export async function runPass(url: string, requests: readonly CacheRequest[], clients: number): Promise<PassResult> {
  const connections: pg.Client[] = []
  try {
    for (let i = 0; i < clients; i++) {
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => {})
      connections.push(client)
      await client.connect()
    }
    const latenciesMs = new Array<number>(requests.length).fill(Number.NaN)
    const rows = new Array<unknown[] | undefined>(requests.length).fill(undefined)
    const errors: string[] = []
    let next = 0
    const worker = async (client: pg.Client) => {
      for (let i = next++; i < requests.length; i = next++) {
        const { sql } = requests[i] as CacheRequest
        const started = performance.now()
        try {
          const result = await client.query(sql)
          latenciesMs[i] = performance.now() - started
          rows[i] = result.rows
        } catch (err) {
          errors.push(`request ${i}: ${(err as Error).message}`)
        }
      }
    }
    const started = performance.now()
    const cpuBefore = process.cpuUsage()
    await Promise.all(connections.map(worker))
    const wallMs = performance.now() - started
    const cpu = process.cpuUsage(cpuBefore)
    // Digested after the pass, so hashing never delays a response being measured.
    const answers = rows.map((r) => (r ? createHash('sha1').update(JSON.stringify(r)).digest('base64url') : ''))
    return { latenciesMs, answers, errors, wallMs, clientCpuMs: (cpu.user + cpu.system) / 1000 }
  } finally {
    await Promise.all(connections.map((c) => c.end().catch(() => {})))
  }
}
