import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { createLogger, EventBus, isCairnError, type NewFinding } from '@cairn/core'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { defineDag } from '../src/scheduler/dag-validation.js'
import { Scheduler } from '../src/scheduler/scheduler.js'
import { startWebhookNotifier, type WebhookNotifier } from '../src/scheduler/webhook-notifier.js'

interface Received {
  method: string | undefined
  path: string | undefined
  headers: IncomingHttpHeaders
  body: { text: string; blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[] }
}
interface Plan {
  status: number
  delayMs?: number
}

let server: Server
let baseUrl: string
const received: Received[] = []
const plans: Plan[] = []
const notifiers: WebhookNotifier[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      })
      const plan = plans.shift() ?? { status: 200 }
      setTimeout(() => {
        if (res.destroyed) return
        res.writeHead(plan.status, { 'content-type': 'text/plain' })
        res.end(plan.status === 200 ? 'ok' : 'no')
      }, plan.delayMs ?? 0)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(() => {
  for (const stop of notifiers.splice(0)) stop()
  received.length = 0
  plans.length = 0
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

/** A logger whose JSON lines the test can read. */
function capturingLog() {
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      callback()
    },
  })
  return { log: createLogger({ level: 'debug', format: 'json', destination }), lines }
}

function notifier(
  bus: EventBus,
  extra: { kinds?: string[]; timeoutMs?: number; log?: ReturnType<typeof createLogger> } = {},
) {
  const n = startWebhookNotifier({
    bus,
    url: `${baseUrl}/services/T000/B000/secret-token`,
    log: extra.log ?? createLogger({ level: 'silent' }),
    retryDelayMs: 20,
    ...(extra.kinds ? { kinds: extra.kinds } : {}),
    ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
  })
  notifiers.push(n)
  return n
}

const runFailed: NewFinding = {
  kind: 'pipeline.run_failed',
  source: 'scheduler',
  severity: 'critical',
  reason: 'DAG "sales" run 42 failed: task "load" failed after 3 tries: <timeout> & more',
  evidence: { dag: 'sales', dagRunId: 42 },
}

describe('webhook notifier', () => {
  it('posts pipeline findings as Slack JSON and ignores other kinds', async () => {
    const bus = new EventBus()
    const n = notifier(bus)
    bus.publishFinding({ ...runFailed, kind: 'index.recommendation' })
    const published = bus.publishFinding(runFailed)
    await n.flush()
    expect(received).toHaveLength(1)
    const [req] = received as [Received]
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/services/T000/B000/secret-token')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.body.text).toBe(`:rotating_light: ${runFailed.reason}`)
    expect(req.body.blocks.map((b) => b.type)).toEqual(['section', 'context'])
    expect(req.body.blocks[0]?.text?.text).toBe(
      ':rotating_light: *pipeline.run_failed*\nDAG "sales" run 42 failed: task "load" failed after 3 tries: &lt;timeout&gt; &amp; more',
    )
    expect(req.body.blocks[1]?.elements?.[0]?.text).toBe(
      `DAG \`sales\` · run 42 · critical · source scheduler · ${new Date(published.at).toISOString()}`,
    )
  })

  it('sends only the kinds asked for, and nothing after unsubscribing', async () => {
    const bus = new EventBus()
    const n = notifier(bus, { kinds: ['pipeline.deadline_missed'] })
    bus.publishFinding(runFailed)
    bus.publishFinding({ ...runFailed, kind: 'pipeline.deadline_missed', severity: 'warning', reason: 'late' })
    await n.flush()
    expect(received.map((r) => r.body.text)).toEqual([':warning: late'])
    n()
    bus.publishFinding({ ...runFailed, kind: 'pipeline.deadline_missed', severity: 'warning', reason: 'later' })
    await n.flush()
    expect(received).toHaveLength(1)
  })

  it('retries once after a server error, gives up after the second, and goes on with the next message', async () => {
    const bus = new EventBus()
    const { log, lines } = capturingLog()
    const n = notifier(bus, { log })
    plans.push({ status: 500 }, { status: 200 })
    bus.publishFinding({ ...runFailed, reason: 'first' })
    await n.flush()
    expect(received.map((r) => r.body.text)).toEqual([':rotating_light: first', ':rotating_light: first'])

    plans.push({ status: 503 }, { status: 503 })
    bus.publishFinding({ ...runFailed, reason: 'second' })
    bus.publishFinding({ ...runFailed, reason: 'third' })
    await n.flush()
    expect(received.map((r) => r.body.text).slice(2)).toEqual([
      ':rotating_light: second',
      ':rotating_light: second',
      ':rotating_light: third',
    ])
    const failures = lines.filter((l) => l.msg === 'alert webhook failed')
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({ problem: 'HTTP 503', attempts: 2, target: baseUrl })
    expect(JSON.stringify(lines)).not.toContain('secret-token')
  })

  it('does not retry a request the server refused as invalid', async () => {
    const bus = new EventBus()
    const n = notifier(bus)
    plans.push({ status: 400 })
    bus.publishFinding(runFailed)
    await n.flush()
    expect(received).toHaveLength(1)
  })

  it('times out a request that hangs and retries it', async () => {
    const bus = new EventBus()
    const { log, lines } = capturingLog()
    const n = notifier(bus, { timeoutMs: 150, log })
    plans.push({ status: 200, delayMs: 2_000 }, { status: 200 })
    bus.publishFinding(runFailed)
    await n.flush()
    expect(received).toHaveLength(2)
    expect(lines.some((l) => l.msg === 'alert webhook failed; retrying once')).toBe(true)
    expect(lines.some((l) => l.msg === 'alert posted to webhook')).toBe(true)
  })

  it('refuses a URL that is not http(s)', () => {
    let caught: unknown
    try {
      startWebhookNotifier({ bus: new EventBus(), url: 'ftp://example.com/x', log: createLogger({ level: 'silent' }) })
    } catch (err) {
      caught = err
    }
    expect(isCairnError(caught, 'CAIRN_ERR_CONFIG_INVALID')).toBe(true)
  })
})

describe('webhook notifier with the scheduler', () => {
  let db: TestDatabase
  let pool: pg.Pool
  beforeAll(async () => {
    db = await createMigratedTestDatabase('sched_webhook')
    pool = new pg.Pool({ connectionString: db.url, max: 5 })
  })
  afterAll(async () => {
    await pool?.end()
    await db?.drop()
  })

  it('posts the failed run of a DAG', async () => {
    const bus = new EventBus()
    const n = notifier(bus)
    const dag = defineDag({
      name: 'alerting',
      description: 'fails',
      tasks: [
        {
          name: 'explode',
          retries: 0,
          async run() {
            throw new Error('kaboom')
          },
        },
      ],
    })
    const s = new Scheduler({ pool, dags: [dag], log: createLogger({ level: 'silent' }), bus, tickMs: 50 })
    s.start()
    try {
      const info = await s.waitFor(await s.trigger('alerting'), { timeoutMs: 5_000 })
      expect(info.status).toBe('failed')
    } finally {
      await s.stop()
    }
    await n.flush()
    expect(received).toHaveLength(1)
    expect(received[0]?.body.text).toMatch(
      /^:rotating_light: DAG "alerting" run \d+ \(manual, interval .*\) failed: task "explode" failed after 1 try: kaboom\.$/,
    )
  })
})
