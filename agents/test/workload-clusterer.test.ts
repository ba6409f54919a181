import type { Finding } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import {
  useWorkloadClusterer,
  type WorkloadClusterer,
  type WorkloadClustererOptions,
} from '../src/workload/use-workload-clusterer.js'
import { createTestAgentContext, type TestAgentContext } from './support/agent-context.js'
import {
  ECOMMERCE_TEMPLATES,
  type ExecutedStatement,
  reorderWithNoise,
  runWorkload,
  seedEcommerce,
  WRITE_TEMPLATES,
} from './support/workload-ecommerce.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2026, 2, 2, 9, 0, 0)

let db: TestDatabase
let pool: pg.Pool
let workload: ExecutedStatement[]

beforeAll(async () => {
  db = await createMigratedTestDatabase('workload')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
  await seedEcommerce(pool)
  workload = await runWorkload(pool, ECOMMERCE_TEMPLATES, { seed: 11, from: T0 + 10_000, spanMs: 2 * HOUR })
})

afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

interface Running {
  readonly clusterer: WorkloadClusterer
  readonly ctx: TestAgentContext
  /** Sets the agent's clock. */
  at(now: number): void
  feed(statements: readonly ExecutedStatement[]): Promise<void>
  stop(): Promise<void>
}

/** A clusterer started at T0 on its own context (a restart of the agent is a new one on the same pool). */
async function startClusterer(options: WorkloadClustererOptions = {}): Promise<Running> {
  let now = T0
  const clusterer = useWorkloadClusterer({ pool, intervalMs: HOUR, now: () => now, ...options })
  const ctx = createTestAgentContext(pool, 'workload-clusterer')
  const teardown = await clusterer.agent.start?.(ctx)
  return {
    clusterer,
    ctx,
    at: (t) => {
      now = t
    },
    async feed(statements) {
      for (const s of statements) await clusterer.agent.onResult?.(s.event, ctx)
    },
    async stop() {
      ctx.abort()
      if (typeof teardown === 'function') await teardown()
    },
  }
}

const findings = (ctx: TestAgentContext, kind: string): Finding[] => ctx.published.filter((f) => f.kind === kind)

/** Cluster id → its templates' names, sorted: what "the same clusters" means. */
function clustersByName(clusterer: WorkloadClusterer, statements: readonly ExecutedStatement[]): Map<number, string[]> {
  const names = new Map(statements.map((s) => [s.event.fingerprint, s.template.name]))
  return new Map(clusterer.clusters().map((c) => [c.id, c.members.map((m) => names.get(m) ?? m).sort()]))
}

describe('workload clusterer', () => {
  let first: Map<number, string[]>

  it('clusters a real e-commerce workload by shape: point lookups together, big aggregates apart from them', async () => {
    const run = await startClusterer()
    await run.feed(workload)
    run.at(T0 + 3 * HOUR)
    await run.clusterer.refresh()
    await run.stop()

    const [clusters] = findings(run.ctx, 'workload.clusters')
    expect(clusters?.reason).toMatch(
      /^15 query templates form \d+ workload clusters \(k = \d+ has the best mean silhouette/,
    )
    const fingerprintOf = new Map(workload.map((s) => [s.template.name, s.event.fingerprint]))
    const clusterOfTemplate = (name: string) => run.clusterer.clusterOf(fingerprintOf.get(name) as string)
    const lookups = ECOMMERCE_TEMPLATES.filter((t) => t.group === 'lookup').map((t) => clusterOfTemplate(t.name))
    const aggregates = ECOMMERCE_TEMPLATES.filter((t) => t.group === 'aggregate').map((t) => clusterOfTemplate(t.name))
    expect(new Set(lookups.map((c) => c?.id)).size).toBe(1)
    expect(lookups[0]?.label).toMatch(/^point lookups on /)
    for (const aggregate of aggregates) {
      expect(aggregate?.id).not.toBe(lookups[0]?.id)
      expect(aggregate?.label).toMatch(/^aggregates over /)
    }
    const evidence = clusters?.evidence as { k: number; tried: { k: number; silhouette: number }[] }
    const best = Math.max(...evidence.tried.map((t) => t.silhouette))
    expect(evidence.tried.find((t) => t.k === evidence.k)?.silhouette).toBe(best)

    const { rows } = await pool.query<{ clusters: number; members: number }>(
      `SELECT (SELECT count(*)::int FROM cairn_meta.workload_clusters WHERE retired_at IS NULL) AS clusters,
              (SELECT count(*)::int FROM cairn_meta.workload_cluster_members) AS members`,
    )
    expect(rows[0]).toEqual({ clusters: evidence.k, members: 15 })
    // Two hours of hourly buckets are far from enough to forecast, and the finding says so.
    expect(findings(run.ctx, 'workload.forecast')[0]?.reason).toMatch(
      /^No arrival forecast yet: \d+ buckets of history/,
    )
    first = clustersByName(run.clusterer, workload)
  })

  it('keeps the cluster ids and memberships when the same workload comes again, re-ordered and with noisy timings', async () => {
    // A restarted agent: a new instance that knows the clusters only from cairn_meta.
    const run = await startClusterer()
    await run.feed(reorderWithNoise(workload, 5))
    run.at(T0 + 3 * HOUR)
    await run.clusterer.refresh()
    expect(clustersByName(run.clusterer, workload)).toEqual(first)
    const [clusters] = findings(run.ctx, 'workload.clusters')
    expect(clusters?.reason).toMatch(/^The \d+ workload clusters are unchanged since the last clustering/)
    const evidence = clusters?.evidence as { clusters: { change: string }[] }
    expect(evidence.clusters.every((c) => c.change === 'unchanged')).toBe(true)

    // The same agent again, later, with the workload repeated (noisier still): nothing new to say.
    await run.feed(
      reorderWithNoise(workload, 6).map((s) => ({ ...s, event: { ...s.event, at: s.event.at + 2 * HOUR } })),
    )
    run.at(T0 + 5 * HOUR)
    await run.clusterer.refresh()
    await run.stop()
    expect(clustersByName(run.clusterer, workload)).toEqual(first)
    expect(findings(run.ctx, 'workload.clusters')).toHaveLength(1)
  })

  it('gives a new kind of template a new cluster, and the others keep their ids', async () => {
    const writes = await runWorkload(pool, WRITE_TEMPLATES, { seed: 12, from: T0 + 10_000, spanMs: 2 * HOUR })
    const run = await startClusterer()
    await run.feed([...workload, ...writes])
    run.at(T0 + 3 * HOUR)
    await run.clusterer.refresh()
    await run.stop()

    const now = clustersByName(run.clusterer, [...workload, ...writes])
    for (const [id, members] of first) expect(now.get(id)).toEqual(members)
    const added = [...now].filter(([id]) => !first.has(id))
    expect(added).toHaveLength(1)
    expect(added[0]?.[1]).toEqual(WRITE_TEMPLATES.map((t) => t.name).sort())
    expect(Math.min(...added.map(([id]) => id))).toBeGreaterThan(Math.max(...first.keys()))
    const [clusters] = findings(run.ctx, 'workload.clusters')
    expect(clusters?.reason).toMatch(/^The workload clusters changed: #\d+ writes to .* is new \(3 templates/)
  })

  it('says so when there are too few templates to cluster', async () => {
    const run = await startClusterer({ pool: undefined, loadHistory: false })
    const few = workload.filter((s) =>
      ['order by id', 'customer by id', 'revenue by country'].includes(s.template.name),
    )
    await run.feed(few)
    run.at(T0 + 3 * HOUR)
    await run.clusterer.refresh()
    await run.stop()
    expect(run.ctx.published.map((f) => f.reason)).toEqual([
      'Too few query templates to cluster: 3 templates ran in the last 7 days; clustering needs at least 6.',
    ])
    expect(run.clusterer.clusterOf(few[0]?.event.fingerprint as string)).toBeUndefined()
  })
})
