import { createLogger } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { BronzeLoader } from '../src/bronze/bronze-loader.js'
import { createHttpIngest } from '../src/sources/http-ingest.js'
import { canonicalJson } from '../src/sources/raw-records.js'

let db: TestDatabase
let pool: pg.Pool
let loader: BronzeLoader

beforeAll(async () => {
  db = await createMigratedTestDatabase('sources_http')
  pool = new pg.Pool({ connectionString: db.url })
  loader = new BronzeLoader(pool)
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

let n = 0
const event = (extra: Record<string, unknown> = {}) => ({
  event_id: `ev-${++n}`,
  session_id: 'sess-1',
  event_type: 'page_view',
  event_ts: '2025-03-01T12:00:00.123+01:00',
  ...extra,
})

async function stored(source: string): Promise<{ payload: unknown; batch_id: string }[]> {
  const { rows } = await pool.query(
    'SELECT payload, batch_id FROM bronze.clickstream_events WHERE source = $1 ORDER BY bronze_id',
    [source],
  )
  return rows
}

describe('http ingest', () => {
  it('stores a valid batch in bronze (202), and a retry with the same key stores nothing more', async () => {
    const ingest = createHttpIngest({ loader, source: 'http-a' })
    const events = [event({ customer_id: 7, page_url: '/p/1', extra: { nested: [1, 'x'] } }), event(), event()]
    const first = await ingest.handle({ body: { events }, idempotencyKey: 'req-0001' })
    expect(first).toEqual({ status: 202, body: { accepted: 3, batchId: 'http-a:req-0001', duplicate: false } })
    expect(await stored('http-a')).toEqual(events.map((payload) => ({ payload, batch_id: 'http-a:req-0001' })))

    const retry = await ingest.handle({ body: { events }, idempotencyKey: 'req-0001' })
    expect(retry).toEqual({ status: 202, body: { accepted: 3, batchId: 'http-a:req-0001', duplicate: true } })
    expect(await stored('http-a')).toHaveLength(3)
  })

  it('keeps the keys of two ingest endpoints apart', async () => {
    const events = [event()]
    const a = await createHttpIngest({ loader, source: 'http-x' }).handle({ body: events, idempotencyKey: 'same' })
    const b = await createHttpIngest({ loader, source: 'http-y' }).handle({ body: events, idempotencyKey: 'same' })
    expect([a.body, b.body]).toEqual([
      { accepted: 1, batchId: 'http-x:same', duplicate: false },
      { accepted: 1, batchId: 'http-y:same', duplicate: false },
    ])
    expect(await stored('http-y')).toHaveLength(1)
  })

  it('without a key, the same events (however serialised) are one batch, named by their hash', async () => {
    const ingest = createHttpIngest({ loader, source: 'http-b' })
    const e = event({ device: 'mobile' })
    const reordered = Object.fromEntries(Object.entries(e).reverse())
    const first = await ingest.handle({ body: [e] })
    const again = await ingest.handle({ body: { events: [reordered] } })
    expect(first.status).toBe(202)
    expect((first.body as { batchId: string }).batchId).toMatch(/^http-b:[0-9a-f]{64}$/)
    expect(again.body).toEqual({ ...first.body, duplicate: true })
    expect(canonicalJson([reordered])).toBe(canonicalJson([e]))
    expect(await stored('http-b')).toHaveLength(1)
  })

  it('rejects a request with an invalid event (400, by index and field) and stores none of its events', async () => {
    const ingest = createHttpIngest({ loader, source: 'http-c' })
    const body = {
      events: [
        event(),
        event({ event_type: 'scroll' }),
        event({ event_ts: '2025-02-30T10:00:00Z' }),
        { event_id: 5, event_type: 'purchase', event_ts: '2025-03-01T12:00:00' },
        'not an event',
        event({ note: 'a\u0000b' }),
      ],
    }
    const response = await ingest.handle({ body, idempotencyKey: 'bad-1' })
    expect(response.status).toBe(400)
    const { error } = response.body as {
      error: { code: string; message: string; issueCount: number; issues: { index: number; path: string }[] }
    }
    expect(error.code).toBe('CAIRN_ERR_PIPELINE_INGEST_REJECTED')
    expect(error.message).toMatch(/5 invalid events; nothing was stored/)
    expect(error.issues.map((i) => [i.index, i.path])).toEqual([
      [1, 'event_type'],
      [2, 'event_ts'],
      [3, 'event_id'],
      [3, 'session_id'],
      [3, 'event_ts'],
      [4, ''],
      [5, 'note'],
    ])
    expect(error.issueCount).toBe(7)
    expect(await stored('http-c')).toEqual([])
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM cairn_meta.bronze_batches WHERE batch_id = 'http-c:bad-1'`,
    )
    expect(rows[0].n).toBe(0)
  })

  it('rejects bodies that are not a batch of events with 400', async () => {
    const ingest = createHttpIngest({ loader, source: 'http-d' })
    for (const body of [{ event: [event()] }, 'events', null, { events: [] }, []]) {
      const response = await ingest.handle({ body })
      expect(response.status).toBe(400)
      expect(response.body).toMatchObject({ error: { code: 'CAIRN_ERR_PIPELINE_INGEST_REJECTED' } })
    }
    const badKey = await ingest.handle({ body: [event()], idempotencyKey: 'has space' })
    expect(badKey.status).toBe(400)
    expect(await stored('http-d')).toEqual([])
  })

  it('answers 413 for too many events or too many bytes, and stores nothing', async () => {
    const ingest = createHttpIngest({ loader, source: 'http-e', maxEvents: 3, maxBytes: 2000 })
    const many = await ingest.handle({ body: { events: [event(), event(), event(), event()] } })
    expect(many.status).toBe(413)
    expect(many.body).toMatchObject({
      error: { code: 'CAIRN_ERR_PIPELINE_INGEST_REJECTED', message: expect.stringMatching(/4 events .* at most 3/) },
    })
    const declared = await ingest.handle({ body: [event()], bytes: 2001 })
    expect(declared.status).toBe(413)
    const measured = await ingest.handle({ body: [event({ blob: 'x'.repeat(2000) })] })
    expect(measured.status).toBe(413)
    expect(measured.body).toMatchObject({ error: { message: expect.stringMatching(/at most 2000 are accepted/) } })
    expect(await stored('http-e')).toEqual([])
    expect((await ingest.handle({ body: [event(), event(), event()] })).status).toBe(202)
  })

  it('answers 503 with a reason when bronze cannot be written', async () => {
    const broken = new pg.Pool({ connectionString: db.url })
    await broken.end()
    const ingest = createHttpIngest({ loader: new BronzeLoader(broken), log: createLogger({ level: 'silent' }) })
    const response = await ingest.handle({ body: [event()], idempotencyKey: 'k-503' })
    // The default source name gives the ids `http:<key>`.
    expect(response.status).toBe(503)
    expect(response.body).toMatchObject({
      error: {
        code: 'CAIRN_ERR_DATABASE_UNAVAILABLE',
        message: expect.stringMatching(/sending the same request again is safe/),
        batchId: 'http:k-503',
      },
    })
  })
})
