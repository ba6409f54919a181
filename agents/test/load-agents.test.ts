import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLogger, EventBus, type QueryEvent } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryEvent } from '../../test/support/query-event.js'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { AgentHost } from '../src/host/agent-host.js'
import { loadAgentModules } from '../src/host/load-agents.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const example = join(repo, 'plugins/examples/slow-query-digest')
let db: TestDatabase
let pool: pg.Pool
let scratch: string
beforeAll(async () => {
  db = await createMigratedTestDatabase('loadagents')
  pool = new pg.Pool({ connectionString: db.url, max: 3 })
  // Inside the repository, so the installed package finds @cairn/plugins as a user's project would.
  await mkdir(join(repo, '.cairn'), { recursive: true })
  scratch = await mkdtemp(join(repo, '.cairn', 'agent-modules-'))
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const event = (fingerprint: string, durationMs: number): QueryEvent =>
  queryEvent({ fingerprint, durationMs, normalizedText: `select * from t where k = $1 -- ${fingerprint}` })

describe('loadAgentModules', () => {
  it('loads the example third-party agent from its path, and it runs under the host', async () => {
    process.env.SLOW_QUERY_DIGEST_INTERVAL_MS = '100'
    const [agent, ...rest] = await loadAgentModules(['./plugins/examples/slow-query-digest'], repo)
    expect(rest).toHaveLength(0)
    expect(agent?.meta).toMatchObject({ name: 'slow-query-digest', version: '1.0.0' })
    const bus = new EventBus()
    const host = new AgentHost({ bus, log: createLogger({ level: 'silent' }), pool, statusIntervalMs: 0 })
    host.register(agent as NonNullable<typeof agent>)
    await host.start()
    for (let i = 0; i < 5; i++) bus.publish('query', event('cheap', 1))
    bus.publish('query', event('costly', 40))
    const deadline = Date.now() + 5_000
    let digests = await host.findings.list({ kind: 'digest' })
    while (!digests.some((f) => f.reason.startsWith('costly')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      await host.findings.flush()
      digests = await host.findings.list({ kind: 'digest' })
    }
    await host.stop()
    const digest = digests.find((f) => f.reason.startsWith('costly'))
    expect(digest?.source).toBe('slow-query-digest')
    expect(digest?.reason).toMatch(/^costly cost the most time in the last 0 s: 1 calls, 40\.0 ms in total/)
    expect(
      ((digest?.evidence.top ?? []) as { fingerprint: string; calls: number }[]).map((t) => [t.fingerprint, t.calls]),
    ).toEqual([
      ['costly', 1],
      ['cheap', 5],
    ])
  })

  it('loads an agent by npm package name, resolved from the working directory', async () => {
    const installed = join(scratch, 'node_modules', 'cairn-agent-slow-query-digest')
    await cp(example, installed, { recursive: true })
    const agents = await loadAgentModules(['cairn-agent-slow-query-digest'], scratch)
    expect(agents.map((a) => a.meta.name)).toEqual(['slow-query-digest'])
  })

  it('refuses a module that is missing or does not export an agent, naming it', async () => {
    await expect(loadAgentModules(['cairn-agent-that-does-not-exist'], scratch)).rejects.toMatchObject({
      code: 'CAIRN_ERR_PLUGIN_INVALID',
      message: expect.stringContaining('cannot load agent module "cairn-agent-that-does-not-exist"'),
    })
    await expect(loadAgentModules(['./agents/test/fixtures/not-an-agent.mjs'], repo)).rejects.toMatchObject({
      code: 'CAIRN_ERR_PLUGIN_INVALID',
      message: expect.stringContaining('agent module "./agents/test/fixtures/not-an-agent.mjs": agent "not-an-agent"'),
    })
  })
})
