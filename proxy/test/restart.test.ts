import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createLogger } from '@cairn/core'
import { ProxyServer, UsersFileStore } from '@cairn/proxy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../test/support/free-port.js'

// A private PostgreSQL, so restarting it cannot disturb the other tests.
const run = promisify(execFile)
const script = new URL('../../scripts/services.sh', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'cairn-restart-'))
chmodSync(dir, 0o755)
const env: Record<string, string> = { ...process.env, CAIRN_SERVICES_DIR: join(dir, 'services') } as Record<
  string,
  string
>
const services = (action: string) => run('bash', [script, action], { env, timeout: 300_000 })

let proxy: ProxyServer
let proxyUrl: string
beforeAll(async () => {
  env.CAIRN_SERVICES_PG_PORT = String(await freePort())
  env.CAIRN_SERVICES_REDIS_PORT = String(await freePort())
  await services('up')
  writeFileSync(join(dir, 'users.json'), JSON.stringify({ cairn: 'cairn' }))
  proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    upstream: { host: '127.0.0.1', port: Number(env.CAIRN_SERVICES_PG_PORT) },
    auth: 'scram-sha-256',
    credentials: new UsersFileStore(join(dir, 'users.json')),
    poolMode: 'transaction',
    poolSize: 4,
    queueTimeoutMs: 5_000,
    serverIdleTimeoutMs: 60_000,
    maxClients: 50,
    statements: { record() {} },
    log: createLogger({ level: 'silent' }),
  })
  const { port } = await proxy.listen()
  proxyUrl = `postgres://cairn:cairn@127.0.0.1:${port}/cairn`
}, 300_000)
afterAll(async () => {
  await proxy?.close()
  await services('down').catch(() => {})
})

describe('PostgreSQL restarts under the proxy', () => {
  it('fails in-flight queries cleanly and serves new queries within 2 s of PostgreSQL coming back', async () => {
    const idle = new pg.Client({ connectionString: proxyUrl })
    idle.on('error', () => {})
    await idle.connect()
    expect((await idle.query('select 1 as ok')).rows).toEqual([{ ok: 1 }])

    const busy = new pg.Client({ connectionString: proxyUrl })
    busy.on('error', () => {})
    await busy.connect()
    const inFlight = busy.query('select pg_sleep(20)').then(
      () => 'finished',
      (err: { code?: string }) => err.code,
    )
    await new Promise((r) => setTimeout(r, 300))

    await services('down')
    // PostgreSQL's own answer to a fast shutdown: terminating connection due to administrator command.
    expect(await inFlight).toBe('57P01')
    // While it is down, the idle client's statement fails with a connection error, and the client stays connected.
    const whileDown = await idle.query('select 1').then(
      () => 'answered',
      (err: { code?: string }) => err.code,
    )
    expect(whileDown).toBe('08006')

    await services('up')
    const back = performance.now()
    let answered = false
    while (!answered && performance.now() - back < 5_000) {
      answered = await idle.query('select 2 as again').then(
        (r) => r.rows[0].again === 2,
        () => false,
      )
      if (!answered) await new Promise((r) => setTimeout(r, 50))
    }
    const recoveredMs = performance.now() - back
    expect(answered).toBe(true)
    expect(recoveredMs).toBeLessThan(2_000)

    const fresh = new pg.Client({ connectionString: proxyUrl })
    await fresh.connect()
    expect((await fresh.query('select 3 as fresh')).rows).toEqual([{ fresh: 3 }])
    await Promise.all([fresh.end(), idle.end(), busy.end().catch(() => {})])
  }, 120_000)
})
