import type { Finding, QueryEvent } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { useLatencyPredictor } from '../src/latency/use-latency-predictor.js'
import { activateModel, trainModelNow } from '../src/models/model-commands.js'
import { createTestAgentContext, type TestAgentContext } from './support/agent-context.js'
import { buildLatencyWarehouse, type LatencyQueryTemplate, latencyQueryTemplates } from './support/latency-workload.js'

let db: TestDatabase
let pool: pg.Pool
let client: pg.Client

beforeAll(async () => {
  db = await createMigratedTestDatabase('latency_agent')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
  await buildLatencyWarehouse(pool, { customers: 1_000, products: 200, orders: 3_000 })
  client = new pg.Client({ connectionString: db.url })
  await client.connect()
})

afterAll(async () => {
  await client?.end()
  await pool?.end()
  await db?.drop()
})

let seed = 7
const random = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 4294967296
}

/** Runs a template for real and describes it as the proxy would. */
async function runAsProxy(t: LatencyQueryTemplate, overrides: Partial<QueryEvent> = {}): Promise<QueryEvent> {
  const params = t.params(random)
  const started = performance.now()
  const result = await client.query(t.text, params)
  return {
    at: Date.now(),
    database: 'cairn',
    user: 'cairn',
    applicationName: 'test',
    sessionId: 's1',
    fingerprint: t.name.replace(/\W+/g, '-'),
    normalizedText: t.text,
    text: t.text,
    params,
    kind: 'select',
    relationsRead: [],
    relationsWritten: [],
    deterministic: true,
    nondeterministicReasons: [],
    columns: t.columns,
    durationMs: performance.now() - started,
    poolWaitMs: 0,
    rows: result.rowCount ?? 0,
    bytesOut: 0,
    ...overrides,
  }
}

/** Waits (generously) for the agent to publish a matching finding; no timing is asserted. */
async function published(ctx: TestAgentContext, match: (f: Finding) => boolean, what: string): Promise<Finding> {
  for (let waited = 0; waited < 30_000; waited += 25) {
    const found = ctx.published.find(match)
    if (found) return found
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`no ${what} finding; published: ${ctx.published.map((f) => f.reason).join(' | ')}`)
}

const evidenceOf = (f: Finding) => f.evidence as Record<string, unknown>

describe('the latency predictor agent', () => {
  it('samples SELECTs, trains and activates a model, predicts, reports live accuracy, and picks up another version', async () => {
    const agent = useLatencyPredictor({
      pool,
      // Training waits for all 96 samples below, and none is dropped, so the numbers are exact.
      minSamples: 96,
      queueCap: 1_000,
      sampleRatePerSecond: 10_000,
      retrainCheckMs: 50,
      registryPollMs: 50,
      accuracyIntervalMs: 100,
    })
    const ctx = createTestAgentContext(pool, 'latency-predictor')
    const teardown = await agent.start?.(ctx)
    try {
      const declined = await published(ctx, (f) => evidenceOf(f).event === 'declined', 'declined')
      expect(declined.kind).toBe('latency.model')
      expect(declined.reason).toBe('Did not train a latency model: 0 new samples so far, 96 needed.')
      expect(await agent.predictor.predict('SELECT 1')).toBeUndefined()

      // Cache hits and failed statements are not samples.
      const skipped = await runAsProxy(latencyQueryTemplates[0] as LatencyQueryTemplate, { cache: 'hit' })
      await agent.onResult?.(skipped, ctx)
      await agent.onResult?.({ ...skipped, cache: 'miss', sqlstate: '57014' }, ctx)
      for (let i = 0; i < 6; i++)
        for (const t of latencyQueryTemplates) await agent.onResult?.(await runAsProxy(t), ctx)

      const trained = await published(ctx, (f) => evidenceOf(f).event === 'activated', 'activated')
      expect(trained.kind).toBe('latency.model')
      expect(trained.reason).toMatch(
        /^Trained latency model v1 on 96 samples: held-out median q-error \d+\.\d\d, p90 \d+\.\d\d on 19 rows \(the log-cost line: [\d.]+, [\d.]+\); activated v1, the first active version\. Trained because no version was active\.$/,
      )
      expect(evidenceOf(trained)).toMatchObject({ version: 1, activated: true, sampleCount: 96 })
      expect((evidenceOf(trained).heldOut as { medianQError: number }).medianQError).toBeGreaterThanOrEqual(1)

      const t = latencyQueryTemplates[2] as LatencyQueryTemplate
      const prediction = await agent.predictor.predict(t.text, t.params(random), t.columns)
      expect(prediction?.modelVersion).toBe(1)
      expect(prediction?.ms).toBeGreaterThan(0)
      expect(prediction?.plan.planShape).toContain('silver.orders')

      const before = ctx.published.length
      for (const t of latencyQueryTemplates.slice(0, 8)) await agent.onResult?.(await runAsProxy(t), ctx)
      const accuracy = await published(
        ctx,
        (f) =>
          f.kind === 'latency.accuracy' &&
          ctx.published.indexOf(f) >= before &&
          Number(evidenceOf(f).observations) === 8,
        'accuracy over 8 predictions',
      )
      expect(accuracy.reason).toMatch(
        /^Over the last 8 sampled SELECTs, latency model v1 had a median q-error of \d+\.\d\d and a p90 of \d+\.\d\d/,
      )
      const examples = evidenceOf(accuracy).examples as { fingerprint: string; medianPredictedMs: number }[]
      expect(examples.length).toBe(5)
      expect(examples[0]?.medianPredictedMs).toBeGreaterThan(0)
      // 96 + 8 sampled; the cache hit and the failed statement were not.
      expect(evidenceOf(accuracy).sampling).toMatchObject({ sampled: 104, explainFailures: 0 })

      // A version trained and activated from the CLI is picked up without a restart.
      const cli = await trainModelNow(pool, 'latency', { activation: 'never' })
      await activateModel(pool, 'latency', cli.version.version)
      const loaded = await published(ctx, (f) => evidenceOf(f).event === 'loaded', 'loaded')
      expect(loaded.reason).toBe(
        `Loaded latency model v${cli.version.version}, activated in the registry in place of v1.`,
      )
      expect(agent.predictor.model?.version).toBe(cli.version.version)
    } finally {
      if (typeof teardown === 'function') await teardown()
      ctx.abort()
    }
    expect(await agent.predictor.predict('SELECT 1')).toBeUndefined()
  })
})
