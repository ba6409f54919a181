import pg from 'pg'
import { Random } from '../generator/random.js'
import { type AnalyticTemplate, analyticTemplates, drawTemplate } from './analytic-workload.js'
import { loadWorkloadDomain, type WorkloadDomain } from './workload-domain.js'

export interface AnalyticWorkloadOptions {
  /** Where to send it: the proxy's URL for the agents to see it, or PostgreSQL's. */
  url: string
  /** Concurrent connections. Default 4. */
  clients?: number
  /** Stop after this long… */
  durationMs?: number
  /** …or after this many statements in all (whichever comes first). */
  statements?: number
  /** Statements per second over all clients at most; unlimited by default. */
  ratePerSecond?: number
  seed?: number
  templates?: readonly AnalyticTemplate[]
  /** The domain to draw parameters from; read from `url` when absent. */
  domain?: WorkloadDomain
  signal?: AbortSignal
  /** Called after each statement (for progress). */
  onStatement?: (template: AnalyticTemplate, ms: number, error?: Error) => void
  applicationName?: string
}

export interface TemplateTally {
  readonly name: string
  calls: number
  errors: number
  totalMs: number
  lastError?: string
}

export interface AnalyticWorkloadResult {
  readonly statements: number
  readonly errors: number
  readonly wallMs: number
  readonly byTemplate: readonly TemplateTally[]
}

/**
 * Runs the demo analytic workload: each client draws templates by weight and
 * runs them with drawn parameters over the extended protocol (as BI tools with
 * JDBC drivers do). Deterministic for a seed and a client count.
 */
export async function runAnalyticWorkload(options: AnalyticWorkloadOptions): Promise<AnalyticWorkloadResult> {
  const { url, clients = 4, durationMs, statements, ratePerSecond, seed = 7, templates = analyticTemplates } = options
  if (durationMs === undefined && statements === undefined) throw new Error('give durationMs or statements')
  const pool = new pg.Pool({
    connectionString: url,
    max: clients,
    application_name: options.applicationName ?? 'cairn demo workload',
  })
  pool.on('error', () => {})
  const tallies = new Map(
    templates.map((t) => [t.name, { name: t.name, calls: 0, errors: 0, totalMs: 0 } as TemplateTally]),
  )
  const started = performance.now()
  let issued = 0
  let errors = 0
  const interval = ratePerSecond ? 1000 / ratePerSecond : 0
  let nextSlot = started
  try {
    const domain = options.domain ?? (await loadWorkloadDomain(pool))
    const more = () =>
      !options.signal?.aborted &&
      (statements === undefined || issued < statements) &&
      (durationMs === undefined || performance.now() - started < durationMs)
    const client = async (index: number) => {
      const random = new Random(seed, index + 1)
      const connection = await pool.connect()
      try {
        while (more()) {
          issued++
          if (interval) {
            const wait = nextSlot - performance.now()
            nextSlot = Math.max(nextSlot, performance.now()) + interval
            if (wait > 0) await new Promise((r) => setTimeout(r, wait))
          }
          const template = drawTemplate(random, templates)
          const tally = tallies.get(template.name) as TemplateTally
          const t0 = performance.now()
          try {
            await connection.query(template.sql, template.params(domain, random))
            const ms = performance.now() - t0
            tally.calls++
            tally.totalMs += ms
            options.onStatement?.(template, ms)
          } catch (err) {
            errors++
            tally.errors++
            tally.lastError = (err as Error).message
            options.onStatement?.(template, performance.now() - t0, err as Error)
          }
        }
      } finally {
        connection.release()
      }
    }
    await Promise.all(Array.from({ length: clients }, (_, i) => client(i)))
  } finally {
    await pool.end()
  }
  return {
    statements: issued,
    errors,
    wallMs: performance.now() - started,
    byTemplate: [...tallies.values()],
  }
}
