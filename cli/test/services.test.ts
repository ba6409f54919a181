import { chmodSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'
import { runCli } from '../../test/support/run-cli.js'

// A second, private pair of services, so stopping them cannot disturb the suite's own.
const dir = mkdtempSync(join(tmpdir(), 'cairn-services-'))
chmodSync(dir, 0o755)
const settings = {
  CAIRN_SERVICES_DIR: join(dir, 'services'),
  CAIRN_SERVICES_PG_PORT: '0',
  CAIRN_SERVICES_REDIS_PORT: '0',
}

afterAll(() => {
  runCli(['services', 'down'], settings)
})

describe('cairn services', () => {
  it('starts PostgreSQL with hypopg and pg_stat_statements and Redis, is idempotent, and stops', async () => {
    settings.CAIRN_SERVICES_PG_PORT = String(await freePort())
    settings.CAIRN_SERVICES_REDIS_PORT = String(await freePort())

    const up = runCli(['services', 'up'], settings, 600_000)
    expect(up.stderr).toMatch(/PostgreSQL started/)
    expect(up.code).toBe(0)
    const databaseUrl = /^export CAIRN_DATABASE_URL=(.*)$/m.exec(up.stdout)?.[1] as string
    expect(databaseUrl).toBe(`postgres://cairn:cairn@127.0.0.1:${settings.CAIRN_SERVICES_PG_PORT}/cairn`)
    expect(up.stdout).toMatch(`export CAIRN_REDIS_URL=redis://127.0.0.1:${settings.CAIRN_SERVICES_REDIS_PORT}/0`)

    const again = runCli(['services', 'up'], settings)
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/PostgreSQL already running/)
    expect(again.stderr).toMatch(/Redis already running/)
    expect(runCli(['services', 'status'], settings).code).toBe(0)

    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      await client.query('SELECT 1 AS cairn_services_probe')
      const seen = await client.query(`SELECT calls FROM pg_stat_statements WHERE query LIKE '%cairn_services_probe%'`)
      expect(seen.rowCount).toBeGreaterThan(0)
      const hypo = await client.query(
        `CREATE TABLE probe (id int, v text); SELECT * FROM hypopg_create_index('CREATE INDEX ON probe (v)')`,
      )
      const rows = (hypo as unknown as pg.QueryResult[])[1]?.rows ?? []
      expect(rows).toHaveLength(1)
      expect(rows[0].indexname).toMatch(/btree_probe_v/)
      const settingsRows = await client.query(
        `SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'jit') ORDER BY name`,
      )
      expect(settingsRows.rows).toEqual([
        { name: 'jit', setting: 'off' },
        { name: 'listen_addresses', setting: '127.0.0.1' },
      ])
    } finally {
      await client.end()
    }

    const down = runCli(['services', 'down'], settings)
    expect(down.code).toBe(0)
    expect(down.stderr).toMatch(/PostgreSQL stopped/)
    expect(down.stderr).toMatch(/Redis stopped/)
    const status = runCli(['services', 'status'], settings)
    expect(status.code).toBe(1)
    expect(status.stdout).toMatch(/postgres: down/)
    const gone = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 })
    await expect(gone.connect()).rejects.toThrow(/ECONNREFUSED/)
  })
})
