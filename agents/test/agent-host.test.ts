import { createLogger, EventBus, type QueryEvent } from '@cairn/core'
import { defineAgent } from '@cairn/plugins'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryEvent } from '../../test/support/query-event.js'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { until as waitUntil } from '../../test/support/until.js'
import { AgentHost } from '../src/host/agent-host.js'
import { WorkerPool } from '../src/host/worker-pool.js'

let db: TestDatabase
let pool: pg.Pool
beforeAll(async () => {
  db = await createMigratedTestDatabase('agenthost')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

const log = createLogger({ level: 'silent' })
const event = (i: number): QueryEvent => queryEvent({ fingerprint: `f${i}` })
const until = (test: () => boolean | Promise<boolean>) =>
  waitUntil('the condition', test, { timeoutMs: 10_000, everyMs: 20 })
const host = (bus = new EventBus(), extra: Partial<ConstructorParameters<typeof AgentHost>[0]> = {}) =>
  new AgentHost({ bus, log, pool, statusIntervalMs: 0, backoffInitialMs: 20, backoffMaxMs: 100, ...extra })
const noop = (name: string, version = '1.0.0', dependsOn?: string[]) =>
  defineAgent({ meta: { name, version, ...(dependsOn ? { dependsOn } : {}) }, start() {} })

describe('AgentHost registration', () => {
  it('refuses an agent whose dependency is not registered, or registered at a version out of range', () => {
    const h = host()
    expect(() => h.register(noop('advisor', '1.0.0', ['predictor']))).toThrowError(
      expect.objectContaining({
        code: 'CAIRN_ERR_PLUGIN_DEPENDENCY_MISSING',
        message: expect.stringContaining('"advisor" needs "predictor", which is not registered'),
      }),
    )
    h.register(noop('predictor', '1.4.0'))
    expect(() => h.register(noop('advisor', '1.0.0', ['predictor@^2']))).toThrowError(
      expect.objectContaining({
        code: 'CAIRN_ERR_PLUGIN_DEPENDENCY_MISSING',
        message: expect.stringContaining('1.4.0'),
      }),
    )
    h.register(noop('advisor', '1.0.0', ['predictor@^1.2']))
    expect(h.agents.map((a) => a.meta.name)).toEqual(['predictor', 'advisor'])
  })

  it('refuses a bad name, a bad version, a duplicate and an object not made by defineAgent', () => {
    const h = host()
    expect(() => noop('Bad Name')).toThrowError(expect.objectContaining({ code: 'CAIRN_ERR_PLUGIN_INVALID' }))
    expect(() => noop('ok', 'v1')).toThrowError(/semver/)
    h.register(noop('one'))
    expect(() => h.register(noop('one'))).toThrowError(/already registered/)
    expect(() => h.register({ meta: { name: 'raw', version: '1.0.0' }, start() {} } as never)).toThrowError(
      /use defineAgent/,
    )
  })
})

describe('AgentHost isolation', () => {
  it('restarts a crashing agent with backoff while the others keep receiving events', async () => {
    const bus = new EventBus()
    const h = host(bus)
    let starts = 0
    let healthySeen = 0
    let signals: AbortSignal[] = []
    h.register(
      defineAgent({
        meta: { name: 'crasher', version: '1.0.0' },
        start(ctx) {
          starts++
          signals.push(ctx.signal)
        },
        onResult() {
          throw new Error('boom')
        },
      }),
      defineAgent({ meta: { name: 'healthy', version: '1.0.0' }, onResult: () => void healthySeen++ }),
    )
    await h.start()
    for (let i = 0; i < 12; i++) bus.publish('query', event(i))
    await until(() => starts >= 2)
    const crasher = h.status().find((s) => s.name === 'crasher')
    expect(crasher?.restarts).toBeGreaterThanOrEqual(1)
    expect(crasher?.errors).toBeGreaterThanOrEqual(5)
    expect(crasher?.lastError).toContain('boom')
    // The crashed start's signal was aborted; the new one is live.
    expect(signals[0]?.aborted).toBe(true)
    expect(signals.at(-1)?.aborted).toBe(false)
    await until(() => healthySeen === 12)
    await h.stop()
    signals = []
  })

  it('treats a start that never settles as a hang and restarts the agent', async () => {
    const h = host(new EventBus(), { hookTimeoutMs: 50 })
    let starts = 0
    h.register(
      defineAgent({
        meta: { name: 'hanger', version: '1.0.0' },
        start: () => {
          starts++
          return starts === 1 ? new Promise<void>(() => {}) : undefined
        },
      }),
    )
    await h.start()
    await until(() => h.status()[0]?.state === 'running')
    expect(starts).toBe(2)
    expect(h.status()[0]?.lastError).toMatch(/start did not settle within 50 ms/)
    await h.stop()
  })

  it('restarts an agent whose onResult never settles, and it handles later events after the restart', async () => {
    const bus = new EventBus()
    const h = host(bus, { hookTimeoutMs: 60 })
    const handled: string[] = []
    h.register(
      defineAgent({
        meta: { name: 'stuck', version: '1.0.0' },
        onResult: (e) => (e.fingerprint === 'f0' ? new Promise<void>(() => {}) : void handled.push(e.fingerprint)),
      }),
    )
    await h.start()
    bus.publish('query', event(0))
    await until(() => h.status()[0]?.restarts === 1 && h.status()[0]?.state === 'running')
    expect(h.status()[0]?.lastError).toMatch(/onResult did not settle within 60 ms/)
    bus.publish('query', event(1))
    await until(() => handled.length === 1)
    expect(handled).toEqual(['f1'])
    await h.stop()
  })

  it('stops for good an agent that keeps holding the event loop', async () => {
    const bus = new EventBus()
    const h = host(bus, { blockBudgetMs: 5, blocksBeforeFailing: 2 })
    h.register(
      defineAgent({
        meta: { name: 'blocker', version: '1.0.0' },
        onResult() {
          const end = performance.now() + 20
          while (performance.now() < end) {}
        },
      }),
    )
    await h.start()
    for (let i = 0; i < 5; i++) bus.publish('query', event(i))
    await until(() => h.status()[0]?.state === 'failed')
    expect(h.status()[0]?.lastError).toMatch(/held the event loop/)
    await h.stop()
  })

  it('drops the oldest events of an agent that falls behind, and counts them', async () => {
    const bus = new EventBus()
    const h = host(bus, { queueLimit: 10 })
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    const seen: string[] = []
    h.register(
      defineAgent({
        meta: { name: 'slow', version: '1.0.0' },
        async onResult(e) {
          seen.push(e.fingerprint)
          await gate
        },
      }),
    )
    await h.start()
    bus.publish('query', event(0))
    await until(() => seen.length === 1)
    for (let i = 1; i < 50; i++) bus.publish('query', event(i))
    release()
    await until(() => seen.length === 11)
    // The first event was being handled; of the 49 that queued behind it, the newest 10 were kept.
    expect(seen).toEqual(['f0', ...Array.from({ length: 10 }, (_, i) => `f${40 + i}`)])
    expect(h.status()[0]?.eventsDropped).toBe(39)
    await h.stop()
  })
})

describe('AgentHost findings and status', () => {
  it('persists every finding with its source, keeps it immutable, and replays in order', async () => {
    const bus = new EventBus()
    const h = host(bus, { statusIntervalMs: 60_000 })
    h.register(
      defineAgent({
        meta: { name: 'reporter', version: '2.1.0' },
        start(ctx) {
          for (let i = 0; i < 3; i++)
            ctx.publish({ kind: 'test.note', severity: 'info', reason: `note ${i}`, evidence: { i } })
        },
      }),
    )
    await h.start()
    await h.findings.flush()
    const listed = await h.findings.list({ kind: 'test' })
    expect(listed.map((f) => f.reason)).toEqual(['note 2', 'note 1', 'note 0'])
    expect(listed.every((f) => f.source === 'reporter')).toBe(true)
    const replayed: string[] = []
    for await (const f of h.findings.replay({ source: 'reporter' }, 2)) replayed.push(f.reason)
    expect(replayed).toEqual(['note 0', 'note 1', 'note 2'])
    await expect(pool.query(`UPDATE cairn_meta.findings SET reason = 'changed'`)).rejects.toThrow(/append-only/)
    await expect(pool.query(`DELETE FROM cairn_meta.findings`)).rejects.toThrow(/append-only/)
    await h.stop()
    const status = await pool.query(`SELECT name, version, state, findings FROM cairn_meta.agent_status`)
    expect(status.rows).toEqual([{ name: 'reporter', version: '2.1.0', state: 'stopped', findings: '3' }])
  })

  it('deletes findings past the retention, and only those', async () => {
    const h = host(new EventBus(), { findingsRetentionDays: 7 })
    const old = {
      id: '00000000-0000-4000-8000-000000000001',
      kind: 'test.old',
      source: 'x',
      reason: 'old',
      severity: 'info' as const,
      evidence: {},
    }
    await h.findings.append([
      { ...old, at: Date.now() - 8 * 86_400_000 },
      {
        ...old,
        id: '00000000-0000-4000-8000-000000000002',
        kind: 'test.recent',
        reason: 'recent',
        at: Date.now() - 86_400_000,
      },
    ])
    await h.start()
    await until(async () => (await h.findings.list({ kind: 'test.old' })).length === 0)
    expect((await h.findings.list({ kind: 'test.recent' })).map((f) => f.reason)).toEqual(['recent'])
    await h.stop()
  })

  it("holds the next worker task back so the tasks take no more than the pool's CPU share", async () => {
    const workers = new WorkerPool({ maxThreads: 1, cpuShare: 0.25 })
    try {
      const task = new URL('./fixtures/worker-task.mjs', import.meta.url)
      await workers.run({ module: task, name: 'spin', input: { ms: 30 } })
      const finished = Date.now()
      const { readyAt, lastTaskMs } = workers.stats
      expect(lastTaskMs).toBeGreaterThanOrEqual(30)
      // A quarter of a core: a task that ran d ms is followed by 3d ms without one.
      expect(readyAt - finished).toBeGreaterThanOrEqual(3 * lastTaskMs - 5)
      const unlimited = new WorkerPool({ maxThreads: 1, cpuShare: Number.POSITIVE_INFINITY })
      await unlimited.run({ module: task, name: 'spin', input: { ms: 5 } })
      expect(unlimited.stats.readyAt).toBe(0)
      await unlimited.close()
      expect(() => new WorkerPool({ cpuShare: 0 })).toThrowError(/CPU share must be above 0/)
    } finally {
      await workers.close()
    }
  })

  it('runs worker tasks on another thread and reports their errors', async () => {
    const workers = new WorkerPool({ maxThreads: 1 })
    try {
      const task = new URL('./fixtures/worker-task.mjs', import.meta.url)
      const out = await workers.run<{ isMainThread: boolean; threadId: number; echo: unknown }>({
        module: task,
        name: 'whereAmI',
        input: { n: 1 },
      })
      expect(out).toMatchObject({ isMainThread: false, echo: { n: 1 } })
      expect(out.threadId).toBeGreaterThan(0)
      await expect(workers.run({ module: task, name: 'fails' })).rejects.toThrow('task failed on purpose')
      await expect(workers.run({ module: task, name: 'missing' })).rejects.toThrow(/no exported function missing/)
    } finally {
      await workers.close()
    }
  })
})
