import { connectPostgres, createLogger, migrate, type QueryEvent } from '@cairn/core'
import { QueryEventWriter } from '@cairn/proxy'
import { migrationsDir } from '@cairn/sql'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.js'

let db: TestDatabase
let client: pg.Client
beforeAll(async () => {
  db = await createTestDatabase('events')
  client = await connectPostgres(db.url)
  await migrate(client, migrationsDir)
})
afterAll(async () => {
  await client?.end()
  await db?.drop()
})

const event = (i: number): QueryEvent => ({
  at: Date.now(),
  database: 'shop',
  user: 'ann',
  applicationName: 'metabase',
  sessionId: `s${i}`,
  fingerprint: 'f00dfeed00000000',
  normalizedText: 'select * from orders where id = $1',
  kind: 'select',
  relationsRead: ['public.orders'],
  relationsWritten: [],
  deterministic: true,
  nondeterministicReasons: [],
  columns: [],
  durationMs: 1.5,
  poolWaitMs: 0.1,
  rows: i,
  bytesOut: 100 + i,
  ...(i % 2 ? { sqlstate: '22012' } : {}),
})

describe('QueryEventWriter', () => {
  it('writes events in batches to the day partition and keeps partitions for the days ahead', async () => {
    const writer = new QueryEventWriter({
      client,
      log: createLogger({ level: 'silent' }),
      retentionDays: 7,
      intervalMs: 60_000,
    })
    await writer.start()
    for (let i = 0; i < 250; i++) writer.add(event(i))
    await writer.stop()
    const r = await client.query(
      `SELECT count(*)::int AS n, sum(rows)::int AS rows, count(sqlstate)::int AS errors, min(relations_read::text) AS rel,
              count(DISTINCT tableoid)::int AS partitions FROM cairn_meta.query_events`,
    )
    expect(r.rows[0]).toEqual({ n: 250, rows: 31125, errors: 125, rel: '{public.orders}', partitions: 1 })
    const parts = await client.query(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'cairn_meta.query_events'::regclass`,
    )
    expect(parts.rows[0].n).toBeGreaterThanOrEqual(3)
  })

  it('reports per fingerprint what the result cache did and why not (cairn_meta.cache_report)', async () => {
    const writer = new QueryEventWriter({
      client,
      log: createLogger({ level: 'silent' }),
      retentionDays: 7,
      intervalMs: 60_000,
    })
    const cached = (i: number, cache: 'hit' | 'miss'): QueryEvent => ({
      ...event(i),
      fingerprint: 'aaaa000000000001',
      cache,
    })
    for (let i = 0; i < 9; i++) writer.add(cached(i, 'hit'))
    writer.add(cached(9, 'miss'))
    writer.add({
      ...event(10),
      fingerprint: 'bbbb000000000002',
      cache: 'uncacheable',
      cacheReason: 'not deterministic: calls now()',
    })
    await writer.flush()
    const { rows } = await client.query(
      `SELECT fingerprint, hits::int, misses::int, hit_rate_pct::float8 AS rate, cacheable, why_not
         FROM cairn_meta.cache_report ORDER BY fingerprint`,
    )
    expect(rows).toEqual([
      { fingerprint: 'aaaa000000000001', hits: 9, misses: 1, rate: 90, cacheable: true, why_not: null },
      {
        fingerprint: 'bbbb000000000002',
        hits: 0,
        misses: 0,
        rate: null,
        cacheable: false,
        why_not: 'not deterministic: calls now()',
      },
    ])
  })

  it('keeps the statement text, its parameters and its columns', async () => {
    const writer = new QueryEventWriter({ client, log: createLogger({ level: 'silent' }), retentionDays: 7 })
    await writer.start()
    writer.add({
      ...event(0),
      fingerprint: 'feedbeef00000001',
      text: 'select * from orders where id = $1 and note = $2',
      params: ['42', null],
      columns: [{ relation: 'public.orders', column: 'id', role: 'predicate' }],
    })
    writer.add({ ...event(0), fingerprint: 'feedbeef00000002', text: `select '${'x'.repeat(70_000)}'` })
    await writer.stop()
    const r = await client.query(
      `SELECT fingerprint, statement_text, params, columns FROM cairn_meta.query_events
       WHERE fingerprint LIKE 'feedbeef%' ORDER BY fingerprint`,
    )
    expect(r.rows).toEqual([
      {
        fingerprint: 'feedbeef00000001',
        statement_text: 'select * from orders where id = $1 and note = $2',
        params: ['42', null],
        columns: [{ relation: 'public.orders', column: 'id', role: 'predicate' }],
      },
      // Too long to keep whole: the normalized text stands for it.
      { fingerprint: 'feedbeef00000002', statement_text: null, params: null, columns: [] },
    ])
  })

  it('drops partitions older than the retention, and only those', async () => {
    await client.query(
      `CREATE TABLE cairn_meta.query_events_20200101 PARTITION OF cairn_meta.query_events
         FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00')`,
    )
    const writer = new QueryEventWriter({ client, log: createLogger({ level: 'silent' }), retentionDays: 7 })
    await writer.maintainPartitions()
    const names = (
      await client.query<{ relname: string }>(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'cairn_meta.query_events'::regclass ORDER BY 1`,
      )
    ).rows.map((r) => r.relname)
    expect(names).not.toContain('query_events_20200101')
    const today = new Date().toISOString().slice(0, 10).replaceAll('-', '')
    expect(names).toContain(`query_events_${today}`)
  })
})
