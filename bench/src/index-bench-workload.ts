import { type AnalyticTemplate, analyticTemplates, runAnalyticWorkload, type WorkloadDomain } from '@cairn/pipelines'
import type pg from 'pg'

/** One template's share of a pass: failed statements (the statement timeout) count with the time they took. */
export interface TemplateTime {
  name: string
  calls: number
  failures: number
  totalMs: number
  firstError?: string
}

export interface WorkloadPass {
  label: string
  statements: number
  failures: number
  /** Sum of the statements' times, failures included: the workload time the report compares. */
  totalMs: number
  wallMs: number
  /** Epoch ms: the pass's statements are the query events between these. */
  startedAt: number
  endedAt: number
  templates: TemplateTime[]
}

export interface WorkloadSettings {
  statements: number
  seed: number
  clients: number
  /** Statements of another seed run first, not counted: caches after a build or a drop start cold. */
  warmup: number
  /** Read once, so every pass draws the same parameters. */
  domain: WorkloadDomain
}

/**
 * Runs the demo analytic workload once through `url`: the same statements,
 * with the same parameters, in every pass (one client: the order is fixed
 * too). Each statement is timed by the client, failures included.
 */
export async function runWorkloadPass(url: string, label: string, s: WorkloadSettings): Promise<WorkloadPass> {
  if (s.warmup > 0)
    await runAnalyticWorkload({
      url,
      clients: s.clients,
      statements: s.warmup,
      seed: s.seed + 1000,
      domain: s.domain,
      applicationName: 'cairn index bench warm-up',
    })
  const times = new Map<string, TemplateTime>(
    analyticTemplates.map((t) => [t.name, { name: t.name, calls: 0, failures: 0, totalMs: 0 }]),
  )
  const onStatement = (template: AnalyticTemplate, ms: number, error?: Error) => {
    const t = times.get(template.name) as TemplateTime
    t.calls++
    t.totalMs += ms
    if (error) {
      t.failures++
      t.firstError ??= error.message
    }
  }
  const startedAt = Date.now()
  const result = await runAnalyticWorkload({
    url,
    clients: s.clients,
    statements: s.statements,
    seed: s.seed,
    domain: s.domain,
    onStatement,
    applicationName: 'cairn index bench',
  })
  const endedAt = Date.now()
  const templates = [...times.values()]
  return {
    label,
    statements: templates.reduce((n, t) => n + t.calls, 0),
    failures: result.errors,
    totalMs: templates.reduce((ms, t) => ms + t.totalMs, 0),
    wallMs: result.wallMs,
    startedAt,
    endedAt,
    templates,
  }
}

/**
 * Waits until the proxy has written the pass's query events (it flushes every
 * second): until `expected` events since `since` are there, or their count has
 * not grown for 5 s. Returns the count.
 */
export async function awaitQueryEvents(db: pg.Pool, since: number, expected: number): Promise<number> {
  let last = -1
  let stableSince = Date.now()
  const deadline = Date.now() + 120_000
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM cairn_meta.query_events WHERE at >= $1',
      [new Date(since)],
    )
    const n = rows[0]?.n ?? 0
    if (n >= expected) return n
    if (n !== last) {
      last = n
      stableSince = Date.now()
    } else if (Date.now() - stableSince > 5_000 || Date.now() > deadline) return n
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}
