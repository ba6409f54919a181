import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runAnalyticWorkload } from '@cairn/pipelines'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'
import { CliProcess, runCli } from '../../test/support/run-cli.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { until } from '../../test/support/until.js'

const crashing = fileURLToPath(new URL('../../agents/test/fixtures/crashing-agent.mjs', import.meta.url))
const example = fileURLToPath(new URL('../../plugins/examples/slow-query-digest', import.meta.url))

describe('cairn start runs the agents', () => {
  let db: TestDatabase
  let client: pg.Client
  let settings: Record<string, string>
  beforeAll(async () => {
    db = await createTestDatabase('start_agents')
    client = new pg.Client({ connectionString: db.url })
    await client.connect()
    settings = {
      CAIRN_DATABASE_URL: db.url,
      CAIRN_DATA_DIR: mkdtempSync(join(tmpdir(), 'cairn-agents-')),
      CAIRN_HTTP_PORT: String(await freePort()),
      CAIRN_PROXY_PORT: String(await freePort()),
      CAIRN_PIPELINE_DEMO_ORDERS: '300',
      CAIRN_CACHE: 'off',
      CAIRN_AGENT_MODULES: `${crashing},${example}`,
      CAIRN_COLLECTOR_INTERVAL_MS: '1000',
      CAIRN_WORKLOAD_INTERVAL_MS: '3000',
      CAIRN_WORKLOAD_BUCKET_MS: '1000',
      CAIRN_ANOMALY_INTERVAL_MS: '2000',
    }
  })
  afterAll(async () => {
    await client?.end()
    await db?.drop()
  })

  it('keeps answering through the proxy while a crashing agent restarts, and reports agents and findings', async () => {
    const cairn = new CliProcess(['start'], settings)
    try {
      await cairn.waitFor('Cairn is ready')
      await until('gold from the demo data', async () => {
        const { rows } = await client
          .query('SELECT count(*)::int AS n FROM gold.daily_sales')
          .catch(() => ({ rows: [{ n: 0 }] }))
        return rows[0].n > 0 ? rows[0].n : undefined
      })
      const state = JSON.parse(readFileSync(join(settings.CAIRN_DATA_DIR as string, 'cairn.run.json'), 'utf8'))
      // The crashing agent fails on every statement; the proxy answers every one regardless.
      const workload = await runAnalyticWorkload({ url: state.proxyUrl, clients: 2, durationMs: 10_000, seed: 3 })
      expect(workload.errors).toBe(0)
      expect(workload.statements).toBeGreaterThan(100)

      const crashed = await until('a restart of the crashing agent', async () => {
        const { rows } = await client.query(
          `SELECT restarts, last_error FROM cairn_meta.agent_status WHERE name = 'crashing-example' AND restarts > 0`,
        )
        return rows[0]
      })
      expect(crashed.last_error).toContain('this agent always fails')

      const clusters = await until('workload clusters', async () => {
        const { rows } = await client.query(
          `SELECT reason, evidence FROM cairn_meta.findings WHERE kind = 'workload.clusters' ORDER BY seq DESC LIMIT 1`,
        )
        return rows[0]
      })
      expect(clusters.reason).toMatch(/cluster/)

      const status = runCli(['agents', 'status'], settings)
      expect(status.code).toBe(0)
      for (const name of [
        'collectors',
        'workload-clusterer',
        'latency-predictor',
        'anomaly-detector',
        'slow-query-digest',
      ])
        expect(status.stdout).toMatch(new RegExp(`${name}\\s+\\S+\\s+running`))
      expect(status.stdout).toMatch(/crashing-example: last error: .*this agent always fails/)

      const findings = runCli(['agents', 'findings', '--kind', 'workload', '--since', '10m'], settings)
      expect(findings.code).toBe(0)
      expect(findings.stdout).toContain('workload.clusters  [workload-clusterer]')

      const list = runCli(['agents', 'list'], settings)
      expect(list.stdout).toMatch(/latency-predictor\s+1\.0\.0/)
      expect(list.stdout).toContain(example)

      const collected = await client.query('SELECT count(*)::int AS n FROM cairn_meta.host_samples')
      expect(collected.rows[0].n).toBeGreaterThan(0)
      // The statements' text and parameters are kept for the predictor and for replay.
      const captured = await client.query(
        `SELECT count(*)::int AS n FROM cairn_meta.query_events WHERE application_name = 'cairn demo workload' AND params IS NOT NULL`,
      )
      expect(captured.rows[0].n).toBeGreaterThan(100)
    } finally {
      cairn.child.kill('SIGINT')
      const exit = await cairn.exited
      expect(exit.code).toBe(0)
    }
    // A stopped host leaves every agent stopped.
    const { rows } = await client.query(`SELECT DISTINCT state FROM cairn_meta.agent_status`)
    expect(rows.map((r) => r.state)).toEqual(['stopped'])
  }, 240_000)

  it('refuses to start with a third-party agent that cannot be loaded, naming it', async () => {
    const bad = new CliProcess(['start'], { ...settings, CAIRN_AGENT_MODULES: './no/such/agent.js' })
    const exit = await bad.exited
    expect(exit.code).not.toBe(0)
    expect(bad.stderr + JSON.stringify(bad.lines)).toContain('cannot load agent module "./no/such/agent.js"')
  })
})
