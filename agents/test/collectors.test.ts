import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogger } from '@cairn/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { collectorStatus } from '../src/collectors/collector-status.js'
import { HostCollector } from '../src/collectors/host-collector.js'
import { hostSamples } from '../src/collectors/host-samples.js'
import { latestIndexStats } from '../src/collectors/latest-index-stats.js'
import { latestTableStats } from '../src/collectors/latest-table-stats.js'
import { pruneCollectorSamples } from '../src/collectors/prune-collector-samples.js'
import { StatementCollector } from '../src/collectors/statement-collector.js'
import { type StatementDelta, statementDeltas } from '../src/collectors/statement-deltas.js'
import { statementTotals } from '../src/collectors/statement-totals.js'
import { TableStatsCollector } from '../src/collectors/table-stats-collector.js'
import { useCollectors } from '../src/collectors/use-collectors.js'
import { createTestAgentContext } from './support/agent-context.js'

let db: TestDatabase
let pool: pg.Pool
/** A connection of its own, as a client that does not go through the proxy. */
let direct: pg.Client
let dbid: number
const since = new Date(Date.now() - 60_000)

beforeAll(async () => {
  db = await createMigratedTestDatabase('collectors')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
  direct = new pg.Client({ connectionString: db.url })
  await direct.connect()
  // pg_stat_statements is cluster-wide and other test files run at the same time: everything is filtered by dbid.
  dbid = (await pool.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = current_database()')).rows[0]
    ?.oid as number
})

afterAll(async () => {
  await direct?.end()
  await pool?.end()
  await db?.drop()
})

/** Runs the probe statement `times` times, directly. */
async function probe(times: number): Promise<void> {
  for (let i = 0; i < times; i++) await direct.query('SELECT $1::int + 1 AS collector_probe', [i])
}

async function probeDeltas(): Promise<StatementDelta[]> {
  return (await statementDeltas(pool, since, { dbid })).filter((d) => d.query?.includes('collector_probe'))
}

describe('pg_stat_statements deltas', () => {
  let statements: StatementCollector

  beforeAll(() => {
    statements = new StatementCollector({ pool })
  })

  it('stores a statement run directly as a delta with its call count after two snapshots', async () => {
    expect(await statements.sample()).toBe(0)
    expect(statements.availability.collecting).toBe(true)
    await probe(3)
    expect(await statements.sample()).toBeGreaterThan(0)
    const deltas = await probeDeltas()
    expect(deltas.map((d) => d.calls)).toEqual([3])
    expect(deltas[0]?.intervalSeconds).toBeGreaterThan(0)

    await probe(2)
    await statements.sample()
    expect((await probeDeltas()).map((d) => d.calls)).toEqual([3, 2])
    // The text is stored once, when the queryid first showed up.
    const texts = await pool.query<{ first_seen: Date }>(
      'SELECT first_seen FROM cairn_meta.statement_texts WHERE queryid = $1',
      [deltas[0]?.queryid],
    )
    expect(texts.rows).toHaveLength(1)
    expect(texts.rows[0]?.first_seen.getTime()).toBe(deltas[0]?.at.getTime())

    const totals = await statementTotals(pool, since, { dbid, limit: 1_000 })
    expect(totals.find((t) => t.query?.includes('collector_probe'))?.calls).toBe(5)
  })

  it('stores only entries whose calls changed', async () => {
    await statements.sample()
    // The probe did not run since the last sample: no new row for it.
    expect((await probeDeltas()).map((d) => d.calls)).toEqual([3, 2])
  })

  it('takes the new values as the delta after a reset of the view, never a negative one', async () => {
    await probe(5)
    await statements.sample()
    // Resets this database's entries only, so the other test files' statistics are left alone.
    await direct.query('SELECT pg_stat_statements_reset(0, $1, 0)', [dbid])
    await probe(2)
    await statements.sample()
    expect((await probeDeltas()).map((d) => d.calls)).toEqual([3, 2, 5, 2])
    const negative = await pool.query(
      `SELECT count(*)::int AS n FROM cairn_meta.stat_statements_samples
       WHERE dbid = $1 AND (calls < 0 OR total_exec_time_ms < 0 OR rows < 0 OR shared_blks_hit < 0
         OR shared_blks_read < 0 OR temp_blks_read < 0 OR temp_blks_written < 0)`,
      [dbid],
    )
    expect(negative.rows[0].n).toBe(0)
  })
})

describe('table and index statistics', () => {
  it('shows inserted rows, dead tuples after a real DELETE, scans and sizes', async () => {
    // No autovacuum on this table: it would clear the dead tuples the test looks for.
    await direct.query(
      'CREATE TABLE public.collector_orders (id int PRIMARY KEY, note text) WITH (autovacuum_enabled = false)',
    )
    const tables = new TableStatsCollector({ pool })
    expect(tables.availability.reason).toContain('"cairn_meta"')
    await tables.sample()
    const first = (await latestTableStats(pool)).find((t) => t.table === 'collector_orders')
    expect(first).toMatchObject({ schema: 'public', inserted: null, intervalSeconds: null, liveTuples: 0 })

    await direct.query(`INSERT INTO public.collector_orders SELECT g, repeat('x', 50) FROM generate_series(1, 500) g`)
    await direct.query('DELETE FROM public.collector_orders WHERE id <= 100')
    await direct.query('SELECT count(*) FROM public.collector_orders')
    await direct.query('SET enable_seqscan = off')
    await direct.query('SELECT note FROM public.collector_orders WHERE id = 250')
    await direct.query('RESET enable_seqscan')
    // Statistics reach the shared views when a backend flushes them; make this one flush now.
    await direct.query('SELECT pg_stat_force_next_flush()')
    await tables.sample()

    const stats = await latestTableStats(pool)
    const orders = stats.find((t) => t.table === 'collector_orders')
    expect(orders).toMatchObject({ inserted: 500, deleted: 100, liveTuples: 400, deadTuples: 100 })
    expect(orders?.seqScan).toBeGreaterThanOrEqual(1)
    expect(orders?.intervalSeconds).toBeGreaterThan(0)
    expect(orders?.tableBytes).toBeGreaterThan(0)
    expect(orders?.indexesBytes).toBeGreaterThan(0)
    expect(orders?.totalBytes).toBeGreaterThanOrEqual((orders?.tableBytes ?? 0) + (orders?.indexesBytes ?? 0))
    expect(stats.some((t) => t.schema === 'cairn_meta')).toBe(false)
    expect(stats.some((t) => t.schema === 'silver' && t.table === 'orders')).toBe(true)

    const pkey = (await latestIndexStats(pool)).find((i) => i.index === 'collector_orders_pkey')
    expect(pkey?.table).toBe('collector_orders')
    expect(pkey?.idxScan).toBeGreaterThanOrEqual(1)
    expect(pkey?.indexBytes).toBeGreaterThan(0)
  })

  it('counts a reset of the table counters as the new values, not negative deltas', async () => {
    const tables = new TableStatsCollector({ pool })
    await tables.sample()
    const relid = (await pool.query(`SELECT 'public.collector_orders'::regclass::oid AS oid`)).rows[0].oid
    await direct.query('SELECT pg_stat_reset_single_table_counters($1)', [relid])
    await direct.query('INSERT INTO public.collector_orders VALUES (1001, null), (1002, null)')
    await direct.query('SELECT pg_stat_force_next_flush()')
    await tables.sample()
    const orders = (await latestTableStats(pool)).find((t) => t.table === 'collector_orders')
    expect(orders?.inserted).toBe(2)
    expect(orders?.deleted).toBe(0)
  })
})

describe('host resources', () => {
  it('stores a plausible sample: 0..100 % CPU, used memory within total', async () => {
    const host = new HostCollector({ pool, host: 'collectors-test-host' })
    expect(await host.sample()).toBe(0)
    await sleep(200)
    expect(await host.sample()).toBe(1)
    expect(host.availability.collecting).toBe(true)
    const [s] = await hostSamples(pool, since, { host: 'collectors-test-host' })
    expect(s).toBeDefined()
    expect(s?.cpuPercent).toBeGreaterThanOrEqual(0)
    expect(s?.cpuPercent).toBeLessThanOrEqual(100)
    expect(s?.memTotalBytes).toBeGreaterThan(0)
    expect(s?.memUsedBytes).toBeGreaterThan(0)
    expect(s?.memUsedBytes).toBeLessThanOrEqual(s?.memTotalBytes ?? 0)
    expect(s?.load1).toBeGreaterThanOrEqual(0)
    expect(s?.cpuCount).toBeGreaterThanOrEqual(1)
    if (s?.diskReadBytesPerS !== null) expect(s?.diskReadBytesPerS).toBeGreaterThanOrEqual(0)
  })

  it('says host resources are not collected where there is no /proc, without failing', async () => {
    const host = new HostCollector({ pool, host: 'nowhere', procDir: '/nonexistent-proc' })
    expect(await host.sample()).toBe(0)
    expect(host.availability).toMatchObject({ collecting: false })
    expect(host.availability.reason).toMatch(/\/proc/)
  })
})

describe('retention', () => {
  it('deletes rows older than the window in batches and keeps the rest', async () => {
    const old = "now() - interval '8 days'"
    const recent = "now() - interval '1 day'"
    const hostRow = (at: string, host: string) => `(${at}, 10, 1, 2, null, null, 0.5, '${host}', 0.5, 0.5, 1, 0, 60)`
    await pool.query(
      `INSERT INTO cairn_meta.host_samples (at, cpu_percent, mem_used_bytes, mem_total_bytes, disk_read_bytes_per_s,
         disk_write_bytes_per_s, load1, host, load5, load15, cpu_count, cpu_iowait_percent, interval_seconds)
       VALUES ${[1, 2, 3, 4, 5].map(() => hostRow(old, 'retention-old')).join(', ')}, ${hostRow(recent, 'retention-recent')}`,
    )
    await pool.query(
      `INSERT INTO cairn_meta.statement_texts (queryid, query, first_seen) VALUES
         (-101, 'old and unused', ${old}), (-102, 'old but sampled recently', ${old}), (-103, 'recent, unused', ${recent})`,
    )
    const statementRow = (at: string, queryid: number) => `(${at}, 60, ${queryid}, ${dbid}, 10, 1, 1, 1, 0, 0, 0, 0)`
    await pool.query(
      `INSERT INTO cairn_meta.stat_statements_samples (at, interval_seconds, queryid, dbid, userid, calls,
         total_exec_time_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_read, temp_blks_written)
       VALUES ${statementRow(old, -101)}, ${statementRow(old, -102)}, ${statementRow(recent, -102)}`,
    )
    await pool.query(
      `INSERT INTO cairn_meta.table_stats_samples (at, relid, schema_name, table_name, n_live_tup, n_dead_tup,
         n_mod_since_analyze) VALUES (${old}, 1, 's', 'old', 0, 0, 0), (${recent}, 1, 's', 'recent', 0, 0, 0)`,
    )
    await pool.query(
      `INSERT INTO cairn_meta.index_stats_samples (at, indexrelid, relid, schema_name, table_name, index_name)
       VALUES (${old}, 2, 1, 's', 't', 'old'), (${recent}, 2, 1, 's', 't', 'recent')`,
    )

    const pruned = await pruneCollectorSamples(pool, { retentionDays: 7, batchSize: 2 })
    expect(pruned).toEqual({
      stat_statements_samples: 2,
      statement_texts: 1,
      table_stats_samples: 1,
      index_stats_samples: 1,
      host_samples: 5,
    })
    const left = await pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM cairn_meta.host_samples WHERE at < now() - interval '7 days')
            + (SELECT count(*) FROM cairn_meta.stat_statements_samples WHERE at < now() - interval '7 days')
            + (SELECT count(*) FROM cairn_meta.table_stats_samples WHERE at < now() - interval '7 days')
            + (SELECT count(*) FROM cairn_meta.index_stats_samples WHERE at < now() - interval '7 days') AS n`,
    )
    expect(Number(left.rows[0]?.n)).toBe(0)
    const texts = await pool.query(
      `SELECT queryid::int AS q FROM cairn_meta.statement_texts WHERE queryid BETWEEN -103 AND -101 ORDER BY 1`,
    )
    expect(texts.rows.map((r) => r.q)).toEqual([-103, -102])
    expect((await hostSamples(pool, new Date(0), { host: 'retention-recent' })).length).toBe(1)
    expect((await latestTableStats(pool)).length).toBeGreaterThan(0)
  })
})

describe('useCollectors', () => {
  it('samples on its intervals, publishes what it collects, and stops with its teardown', async () => {
    const ctx = createTestAgentContext(pool, 'collectors')
    const agent = useCollectors({ pool, intervalMs: 150, host: 'collectors-agent-test' })
    const teardown = await agent.start?.(ctx)
    expect(ctx.published).toHaveLength(1)
    const status = ctx.published[0]
    expect(status?.kind).toBe('collector.status')
    expect(status?.severity).toBe('info')
    expect(status?.reason).toContain('pg_stat_statements deltas are collected')
    expect(status?.reason).toContain('table and index statistics')
    expect(status?.reason).toContain('host resources of "collectors-agent-test"')

    // Wait for a few intervals: every collector has sampled and said so in cairn_meta.collector_status.
    for (let i = 0; i < 100; i++) {
      const rows = await collectorStatus(pool)
      if (rows.length === 3 && rows.every((r) => r.samples >= 3)) break
      await sleep(100)
    }
    const statuses = await collectorStatus(pool)
    expect(statuses.map((s) => [s.collector, s.collecting, s.errors])).toEqual([
      ['host', true, 0],
      ['statements', true, 0],
      ['tables', true, 0],
    ])
    expect(statuses.every((s) => s.samples >= 3)).toBe(true)
    expect((await hostSamples(pool, since, { host: 'collectors-agent-test' })).length).toBeGreaterThanOrEqual(2)

    ctx.abort()
    if (typeof teardown === 'function') await teardown()
    const count = async () =>
      Number(
        (await pool.query(`SELECT count(*) AS n FROM cairn_meta.host_samples WHERE host = 'collectors-agent-test'`))
          .rows[0].n,
      )
    const stopped = await count()
    await sleep(500)
    expect(await count()).toBe(stopped)
  })

  it('refuses an unknown collector name', () => {
    expect(() => useCollectors({ pool, collect: ['disks' as 'host'] })).toThrow(/unknown collector "disks"/)
  })

  it('says once, in the log and in its status, that pg_stat_statements is missing, and goes on', async () => {
    const collecting = new StatementCollector({ pool })
    await collecting.sample()
    expect(collecting.availability.collecting).toBe(true)
    await direct.query('DROP EXTENSION pg_stat_statements')
    try {
      // A collector that was collecting when the extension went away says so instead of failing.
      expect(await collecting.sample()).toBe(0)
      expect(collecting.availability).toMatchObject({ collecting: false })
      expect(collecting.availability.reason).toContain('pg_stat_statements is not installed')

      const lines: string[] = []
      const destination = new Writable({
        write(chunk, _encoding, done) {
          lines.push(...String(chunk).split('\n').filter(Boolean))
          done()
        },
      })
      const base = createTestAgentContext(pool, 'collectors')
      const ctx = { ...base, log: createLogger({ level: 'debug', format: 'json', destination }) }
      const agent = useCollectors({ pool, intervalMs: 100, collect: ['statements'] })
      const teardown = await agent.start?.(ctx)
      const finding = base.published[0]
      expect(finding?.kind).toBe('collector.status')
      expect(finding?.severity).toBe('warning')
      expect(finding?.reason).toContain('pg_stat_statements is not installed')
      expect(finding?.reason).toContain('statements that bypass the proxy are not collected')
      expect(finding?.reason).toContain('table and index statistics were not asked for')

      const ticks = () => lines.filter((l) => l.includes('statements collector: 0 row(s) written')).length
      for (let i = 0; i < 100 && ticks() < 4; i++) await sleep(50)
      expect(ticks()).toBeGreaterThanOrEqual(4)
      expect(lines.filter((l) => l.includes('pg_stat_statements is not installed'))).toHaveLength(1)
      const [row] = (await collectorStatus(pool)).filter((s) => s.collector === 'statements')
      expect(row).toMatchObject({ collecting: false, errors: 0 })
      expect(row?.reason).toContain('pg_stat_statements is not installed')
      base.abort()
      if (typeof teardown === 'function') await teardown()
    } finally {
      await direct.query('CREATE EXTENSION pg_stat_statements')
    }
  })
})
