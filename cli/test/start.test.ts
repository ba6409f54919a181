import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrationsDir } from '@cairn/sql'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'
import { CliProcess, runCli } from '../../test/support/run-cli.js'

const migrations = readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).length

/** Every running process whose command line mentions `dir` (a postgres left behind would). */
function processesUsing(dir: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ')
      } catch {
        return ''
      }
    })
    .filter((cmd) => cmd.includes(dir) && !cmd.includes('vitest'))
}

describe('cairn start on the embedded default', () => {
  let dataDir: string
  let settings: Record<string, string>

  beforeAll(async () => {
    // As root, the embedded server runs as `postgres`, which must be able to enter the directory.
    dataDir = mkdtempSync(join(tmpdir(), 'cairn-embedded-'))
    chmodSync(dataDir, 0o755)
    settings = {
      CAIRN_DATA_DIR: dataDir,
      CAIRN_EMBEDDED_PG_PORT: String(await freePort()),
      CAIRN_HTTP_PORT: String(await freePort()),
      CAIRN_PROXY_PORT: String(await freePort()),
      // The pipelines start with a small demo data set, so a stop arrives while they run.
      CAIRN_PIPELINE_DEMO_ORDERS: '500',
    }
  })

  afterAll(() => {
    expect(processesUsing(dataDir)).toEqual([])
  })

  it('initialises, migrates, answers select 1, serves health and metrics, and stops cleanly on SIGINT', async () => {
    const cairn = new CliProcess(['start'], settings)
    try {
      const started = await cairn.waitFor('embedded PostgreSQL initialised and started')
      expect(started.initialised).toBe(true)
      await cairn.waitFor('Cairn is ready')
      expect(cairn.lines.find((l) => l.msg === 'database: embedded')).toBeDefined()
      expect(cairn.lines.find((l) => l.msg.startsWith('cache: in-process LRU'))).toBeDefined()
      expect(cairn.lines.find((l) => l.msg === 'result cache: on')).toMatchObject({ store: 'memory' })

      const state = JSON.parse(readFileSync(join(dataDir, 'cairn.run.json'), 'utf8'))
      expect(state).toMatchObject({ databaseMode: 'embedded', cacheMode: 'memory', pid: cairn.child.pid })
      const client = new pg.Client({ connectionString: state.databaseUrl })
      await client.connect()
      try {
        expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }])
        const preload = await client.query('SHOW shared_preload_libraries')
        expect(preload.rows[0].shared_preload_libraries).toContain('pg_stat_statements')
        const schemas = await client.query(
          `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('bronze','silver','gold','cairn_meta')`,
        )
        expect(schemas.rows[0].n).toBe(4)
      } finally {
        await client.end()
      }

      // Through the proxy on CAIRN_PROXY_PORT: answered, and recorded in cairn_meta.query_events.
      const viaProxy = new pg.Client({ connectionString: state.proxyUrl, application_name: 'start-test' })
      await viaProxy.connect()
      try {
        expect((await viaProxy.query('select 41 + 1 as answer')).rows).toEqual([{ answer: 42 }])
        expect((await viaProxy.query('select 41 + 1 as answer')).rows).toEqual([{ answer: 42 }])
      } finally {
        await viaProxy.end()
      }
      const recorded = new pg.Client({ connectionString: state.databaseUrl })
      await recorded.connect()
      try {
        let rows: { normalized_text: string; kind: string; cache: string }[] = []
        for (let i = 0; i < 100 && rows.length < 2; i++) {
          rows = (
            await recorded.query(
              `SELECT normalized_text, kind, cache FROM cairn_meta.query_events WHERE application_name = 'start-test' ORDER BY at`,
            )
          ).rows
          if (rows.length < 2) await new Promise((r) => setTimeout(r, 100))
        }
        // The second one came from the result cache (in-process, as no Redis is configured).
        expect(rows).toEqual([
          { normalized_text: 'select $1 + $2 as answer', kind: 'select', cache: 'miss' },
          { normalized_text: 'select $1 + $2 as answer', kind: 'select', cache: 'hit' },
        ])
      } finally {
        await recorded.end()
      }

      const health = await fetch(`${state.httpUrl}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ status: 'ok' })
      const metrics = await (await fetch(`${state.httpUrl}/metrics`)).text()
      expect(metrics).toMatch(/^cairn_process_cpu_seconds_total /m)

      const status = runCli(['status'], settings)
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(/cairn: +running/)
      expect(status.stdout).toMatch(/proxy: +postgres:\/\/cairn:\*\*\*@127\.0\.0\.1:\d+\/cairn/)
      expect(status.stdout).toMatch(new RegExp(`migrations: ${migrations} applied, 0 pending`))

      // `cairn migrate` finds the running embedded server instead of starting a second one.
      const migrate = runCli(['migrate'], settings)
      expect(migrate.code).toBe(0)
      expect(migrate.stdout).toMatch(/database is up to date/)
    } finally {
      cairn.child.kill('SIGINT')
    }
    expect(await cairn.exited).toEqual({ code: 0, signal: null })
    expect(cairn.lines.at(-1)?.msg).toBe('Cairn stopped')
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false)
    expect(existsSync(join(dataDir, 'cairn.run.json'))).toBe(false)
    expect(processesUsing(dataDir)).toEqual([])
    expect(runCli(['status'], settings).code).toBe(3)
  }, 180_000)

  it('reuses the data on a second start, without initialising again', async () => {
    const cairn = new CliProcess(['start'], settings)
    try {
      const started = await cairn.waitFor('embedded PostgreSQL started')
      expect(started.initialised).toBe(false)
      expect(typeof started.ms).toBe('number')
      await cairn.waitFor('Cairn is ready')
      expect(cairn.lines.find((l) => l.msg === 'migrations up to date')).toMatchObject({
        applied: 0,
        alreadyApplied: migrations,
      })
    } finally {
      cairn.child.kill('SIGTERM')
    }
    expect((await cairn.exited).code).toBe(0)
    expect(processesUsing(dataDir)).toEqual([])
  }, 180_000)
})

describe('cairn start refusing bad input', () => {
  it('stops on an invalid setting with a message that names it, not a stack trace', () => {
    const r = runCli(['start'], { CAIRN_HTTP_PORT: '70000', CAIRN_DATA_DIR: tmpdir() })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/CAIRN_ERR_CONFIG_INVALID: .*CAIRN_HTTP_PORT .*"70000".*between 1 and 65535/)
    expect(r.stderr).not.toMatch(/^\s+at /m)
  })

  it('refuses a data dir whose postgres folder holds something else', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cairn-notpg-'))
    chmodSync(dataDir, 0o755)
    mkdirSync(join(dataDir, 'postgres'))
    writeFileSync(join(dataDir, 'postgres', 'notes.txt'), 'mine')
    const r = runCli(['start'], {
      CAIRN_DATA_DIR: dataDir,
      CAIRN_EMBEDDED_PG_PORT: String(await freePort()),
      CAIRN_HTTP_PORT: String(await freePort()),
      CAIRN_PROXY_PORT: String(await freePort()),
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/CAIRN_ERR_EMBEDDED_POSTGRES_FAILED: .*neither empty nor a PostgreSQL data directory/)
    expect(readFileSync(join(dataDir, 'postgres', 'notes.txt'), 'utf8')).toBe('mine')
  })
})
