import { createHttpServer } from '@cairn/api'
import { createLogger } from '@cairn/core'
import { describe, expect, it } from 'vitest'

const logger = createLogger({ level: 'silent', format: 'json' })

describe('HTTP server', () => {
  it('answers /healthz with 200 when every check passes and 503 with the failing check otherwise', async () => {
    let databaseOk = true
    const app = createHttpServer({
      logger,
      health: async () => [
        { name: 'database', ok: databaseOk, detail: databaseOk ? 'SELECT 1 answered' : 'connection refused' },
        { name: 'cache', ok: true, detail: 'memory answered' },
      ],
    })
    const ok = await app.inject({ method: 'GET', url: '/healthz' })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toMatchObject({ status: 'ok' })
    databaseOk = false
    const bad = await app.inject({ method: 'GET', url: '/healthz' })
    expect(bad.statusCode).toBe(503)
    expect(bad.json().checks[0]).toEqual({ name: 'database', ok: false, detail: 'connection refused' })
    await app.close()
  })

  it('serves Prometheus metrics in the text format', async () => {
    const app = createHttpServer({ logger, health: async () => [] })
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toMatch(/^# TYPE cairn_process_cpu_seconds_total counter$/m)
    await app.close()
  })

  it('answers an unknown route with 404 and a reason', async () => {
    const app = createHttpServer({ logger, health: async () => [] })
    const res = await app.inject({ method: 'GET', url: '/nope' })
    expect(res.statusCode).toBe(404)
    expect(res.json().message).toMatch(/Route GET:\/nope not found/)
    await app.close()
  })
})
