import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'
import { CliProcess, runCli } from '../../test/support/run-cli.js'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { until } from '../../test/support/until.js'

/** Customer lookups through the proxy: the workload an index on customer_id pays for. */
async function lookups(url: string, n: number): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: 'dashboard' })
  await c.connect()
  try {
    for (let i = 0; i < n; i++)
      await c.query('SELECT id, total FROM shop.orders WHERE customer_id = $1 ORDER BY id LIMIT 10', [
        (i * 7919) % 20_000,
      ])
  } finally {
    await c.end()
  }
}

describe('the optimization loop from the command line', () => {
  let db: TestDatabase
  let client: pg.Client
  let settings: Record<string, string>
  beforeAll(async () => {
    db = await createMigratedTestDatabase('loop')
    client = new pg.Client({ connectionString: db.url })
    await client.connect()
    await client.query(`CREATE SCHEMA shop;
      CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL, total numeric NOT NULL);
      INSERT INTO shop.orders SELECT g, g % 20000, (ARRAY['paid','shipped','new'])[1 + g % 3], g % 500 FROM generate_series(1, 200000) g;
      ANALYZE shop.orders`)
    settings = {
      CAIRN_DATABASE_URL: db.url,
      CAIRN_DATA_DIR: mkdtempSync(join(tmpdir(), 'cairn-loop-')),
      CAIRN_HTTP_PORT: String(await freePort()),
      CAIRN_PROXY_PORT: String(await freePort()),
      CAIRN_PIPELINES: 'off',
      CAIRN_CACHE: 'off',
      // The index advisor looks every few seconds; this test drives it from the CLI first.
      CAIRN_ADVISOR_INTERVAL_MS: '3600000',
      CAIRN_INDEX_BUDGET_FRACTION: '1',
    }
  })
  afterAll(async () => {
    await client?.end()
    await db?.drop()
  })

  it('advises with reasons, applies through the running loop after approval, keeps what pays, rolls back on request, and audits it all', async () => {
    const cairn = new CliProcess(['start'], settings)
    try {
      await cairn.waitFor('Cairn is ready')
      const state = JSON.parse(readFileSync(join(settings.CAIRN_DATA_DIR as string, 'cairn.run.json'), 'utf8'))
      await lookups(state.proxyUrl, 300)
      await until('the lookups in cairn_meta.query_events', async () => {
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM cairn_meta.query_events WHERE application_name = 'dashboard'`,
        )
        return rows[0].n >= 300 ? rows[0].n : undefined
      })

      const advice = runCli(['advise', '--rejected'], settings, 180_000)
      expect(advice.code, advice.stderr).toBe(0)
      // The plain index, or a covering one widened from it when that makes an index-only scan: both pay.
      expect(advice.stdout).toMatch(
        /An? (covering )?index on shop\.orders \(customer_id[^)]*\)( INCLUDE \(total\))? would make 1 statement [\d,.]+× cheaper/,
      )
      expect(advice.stdout).toContain('CREATE INDEX CONCURRENTLY')
      expect(advice.stdout).toMatch(/→ stored: /)
      const id = /^(\d+) {2}index\.create {2}shop\.orders/m.exec(advice.stdout)?.[1] as string
      expect(id, advice.stdout).toMatch(/^\d+$/)
      // Under the default policy (recommend), nothing is applied without approval.
      const before = await client.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'shop'`)
      expect(before.rows[0].n).toBe(1)

      const applied = runCli(['apply', id], settings, 300_000)
      expect(applied.stdout, applied.stderr).toMatch(/^kept: /m)
      expect(applied.code).toBe(0)
      const { rows: indexes } = await client.query(
        `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'shop' AND indexname LIKE 'cairn_%'`,
      )
      expect(indexes).toHaveLength(1)
      expect(indexes[0].indexdef).toMatch(/USING btree \(customer_id/)

      const actions = runCli(['actions'], settings)
      expect(actions.stdout).toMatch(new RegExp(`${id}\\s+index\\.create\\s+shop\\.orders\\s+kept`))

      const rolledBack = runCli(['rollback', id, '--reason', 'test'], settings, 120_000)
      expect(rolledBack.code, rolledBack.stdout + rolledBack.stderr).toBe(0)
      expect(rolledBack.stdout).toMatch(/^rolled_back: /m)
      const after = await client.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'shop'`)
      expect(after.rows[0].n).toBe(1)

      const audit = runCli(['actions', '--audit', id], settings)
      for (const event of [
        'proposed',
        'approved',
        'baseline.start',
        'apply.start',
        'apply.end',
        'verify.end',
        'kept',
        'rollback.start',
        'rollback.end',
      ])
        expect(audit.stdout, event).toContain(event)
      expect(audit.stdout).toMatch(/cli\s+approved/)
      const findings = runCli(['agents', 'findings', '--kind', 'action'], settings)
      expect(findings.stdout).toContain('action.kept')
    } finally {
      cairn.child.kill('SIGINT')
      expect((await cairn.exited).code).toBe(0)
    }
  }, 300_000)

  it('under the auto policy keeps a useful index on its own and rolls back a planted harmful one', async () => {
    await client.query(`CREATE TABLE shop.events (id bigserial PRIMARY KEY, payload text NOT NULL);
      ALTER TABLE shop.events SET (autovacuum_enabled = off)`)
    const auto = {
      ...settings,
      CAIRN_DATA_DIR: mkdtempSync(join(tmpdir(), 'cairn-loop-auto-')),
      CAIRN_ACTION_POLICY: 'index.create=auto',
      CAIRN_ADVISOR_INTERVAL_MS: '3000',
    }
    const cairn = new CliProcess(['start'], auto)
    try {
      await cairn.waitFor('Cairn is ready')
      const state = JSON.parse(readFileSync(join(auto.CAIRN_DATA_DIR, 'cairn.run.json'), 'utf8'))
      // A write-heavy table: batch inserts through the proxy, captured with their text for replay.
      const writer = new pg.Client({ connectionString: state.proxyUrl, application_name: 'loader' })
      await writer.connect()
      try {
        for (let i = 0; i < 40; i++)
          await writer.query(
            `INSERT INTO shop.events (payload) SELECT repeat(md5(g::text || $1), 20) FROM generate_series(1, 300) g`,
            [String(i)],
          )
      } finally {
        await writer.end()
      }
      const inserts = await until('the inserts in cairn_meta.query_events', async () => {
        const { rows } = await client.query(
          `SELECT fingerprint FROM cairn_meta.query_events WHERE application_name = 'loader' GROUP BY 1 HAVING count(*) >= 40`,
        )
        return rows[0]?.fingerprint as string | undefined
      })
      // Planted: an approved change that only makes those inserts maintain one more wide index.
      const planted = await client.query(
        `INSERT INTO cairn_meta.actions (kind, key, relation, apply_sql, apply_concurrently, rollback_sql,
           rollback_concurrently, reason, affected_fingerprints, source, state, approved_at, approved_by)
         VALUES ('index.create', 'planted:shop.events(payload)', 'shop.events',
           'CREATE INDEX CONCURRENTLY "cairn_events_payload" ON "shop"."events" USING btree ("payload")', true,
           'DROP INDEX CONCURRENTLY "shop"."cairn_events_payload"', true,
           'planted: an index nothing reads, on a table that is only written', ARRAY[$1], 'test', 'approved', now(), 'test')
         RETURNING id`,
        [inserts],
      )
      await lookups(state.proxyUrl, 300)
      const verdicts = await until(
        'a kept index on shop.orders and the planted one rolled back',
        async () => {
          const { rows } = await client.query(
            `SELECT id, relation, state, state_reason FROM cairn_meta.actions WHERE state IN ('kept', 'rolled_back', 'failed')`,
          )
          const kept = rows.find((r) => r.relation === 'shop.orders' && r.state === 'kept')
          const bad = rows.find((r) => r.id === planted.rows[0].id)
          return kept && bad ? { kept, bad } : undefined
        },
        { timeoutMs: 240_000 },
      )
      expect(verdicts.bad.state, verdicts.bad.state_reason).toBe('rolled_back')
      const { rows } = await client.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = 'shop' AND indexname LIKE 'cairn_%' ORDER BY 1`,
      )
      expect(rows.map((r) => r.indexname)).toEqual([expect.stringMatching(/^cairn_orders_customer_id/)])
    } finally {
      cairn.child.kill('SIGINT')
      expect((await cairn.exited).code).toBe(0)
    }
  }, 300_000)
})
