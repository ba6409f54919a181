import type { AgentFinding, ReadOnlyDb } from '@cairn/plugins'

export type ThresholdRuleName =
  | 'connections'
  | 'buffer-cache-hit-ratio'
  | 'deadlocks'
  | 'replication-lag'
  | 'dead-tuples'
  | 'result-cache-hit-ratio'

/** The thresholds of the plain rules. */
export interface ThresholdRuleOptions {
  /** Client connections over `max_connections` above which the rule fires. */
  connectionsFraction: number
  /** Buffer cache hit ratio (blks_hit over hit + read, since the previous check) below which it fires… */
  minBufferHitRatio: number
  /** …judged only over at least this many block accesses. */
  minBufferBlocks: number
  /** New deadlocks since the previous check at which it fires. */
  minDeadlocks: number
  /** Replay lag of a standby above which it fires, milliseconds… */
  maxReplicationLagMs: number
  /** …or WAL bytes not yet replayed. */
  maxReplicationLagBytes: number
  /** Dead tuples over live tuples above which a table fires… */
  deadTupleFraction: number
  /** …when it has at least this many dead tuples. */
  minDeadTuples: number
  /** Result cache hits over lookups below which it fires… */
  minResultCacheHitRatio: number
  /** …judged only over at least this many lookups. */
  minResultCacheLookups: number
}

export const defaultThresholds: ThresholdRuleOptions = {
  connectionsFraction: 0.8,
  minBufferHitRatio: 0.9,
  minBufferBlocks: 1000,
  minDeadlocks: 1,
  maxReplicationLagMs: 30_000,
  maxReplicationLagBytes: 64 * 1024 * 1024,
  deadTupleFraction: 0.2,
  minDeadTuples: 10_000,
  minResultCacheHitRatio: 0.5,
  minResultCacheLookups: 50,
}

/** One rule's verdict for the summary: what it saw, in words. */
export interface RuleCheck {
  readonly rule: ThresholdRuleName
  readonly fired: boolean
  readonly detail: string
}

export interface RuleOutcome {
  readonly findings: AgentFinding[]
  readonly checks: RuleCheck[]
}

/** What the result cache did over the evaluated intervals, from the query events. */
export interface ResultCacheCounts {
  readonly hits: number
  /** hit, miss and bypass. */
  readonly lookups: number
}

interface DatabaseCounters {
  blksHit: number
  blksRead: number
  deadlocks: number
}

/** Tables named per dead-tuple finding round, the worst first. */
const DEAD_TUPLE_TABLES = 5

/**
 * The rules that plain thresholds judge better than a model: connections,
 * buffer cache hit ratio, deadlocks, replication lag, dead tuples, and the result
 * cache hit ratio. Each firing rule becomes an `anomaly.rule` finding. Counters
 * of pg_stat_database are compared with the previous check, so the first check
 * only takes their snapshot.
 */
export class ThresholdRules {
  readonly thresholds: ThresholdRuleOptions
  #previous: DatabaseCounters | null = null

  constructor(thresholds: Partial<ThresholdRuleOptions> = {}) {
    this.thresholds = { ...defaultThresholds, ...thresholds }
  }

  async evaluate(db: ReadOnlyDb, cache: ResultCacheCounts): Promise<RuleOutcome> {
    const findings: AgentFinding[] = []
    const checks: RuleCheck[] = []
    const run = async (rule: ThresholdRuleName, check: () => Promise<{ fired: AgentFinding[]; detail: string }>) => {
      try {
        const { fired, detail } = await check()
        findings.push(...fired)
        checks.push({ rule, fired: fired.length > 0, detail })
      } catch (err) {
        checks.push({ rule, fired: false, detail: `${rule} could not be checked (${(err as Error).message})` })
      }
    }
    await run('connections', () => this.#connections(db))
    await run('buffer-cache-hit-ratio', () => this.#databaseCounters(db, findings, checks))
    await run('replication-lag', () => this.#replication(db))
    await run('dead-tuples', () => this.#deadTuples(db))
    await run('result-cache-hit-ratio', async () => this.#resultCache(cache))
    return { findings, checks }
  }

  async #connections(db: ReadOnlyDb) {
    const t = this.thresholds
    const { rows } = await db.query<{ connections: number; max_connections: number }>(
      `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections,
              current_setting('max_connections')::int AS max_connections`,
    )
    const { connections = 0, max_connections: max = 1 } = rows[0] ?? {}
    const fraction = connections / max
    const detail = `${connections} of ${max} connections in use (${pct(fraction)})`
    if (fraction <= t.connectionsFraction) return { fired: [], detail }
    return {
      detail,
      fired: [
        rule('connections', fraction >= 0.95 ? 'critical' : 'warning', {
          reason: `${detail}, above ${pct(t.connectionsFraction)} of max_connections: new clients will soon be refused; look for idle or leaked sessions, or pool connections`,
          evidence: { connections, maxConnections: max, fraction, threshold: t.connectionsFraction },
        }),
      ],
    }
  }

  /** Buffer cache hit ratio and deadlocks, both deltas of the same pg_stat_database row. */
  async #databaseCounters(db: ReadOnlyDb, findings: AgentFinding[], checks: RuleCheck[]) {
    const t = this.thresholds
    const { rows } = await db.query<{ blks_hit: number; blks_read: number; deadlocks: number }>(
      `SELECT blks_hit::float8 AS blks_hit, blks_read::float8 AS blks_read, deadlocks::float8 AS deadlocks
         FROM pg_stat_database WHERE datname = current_database()`,
    )
    const now: DatabaseCounters = {
      blksHit: rows[0]?.blks_hit ?? 0,
      blksRead: rows[0]?.blks_read ?? 0,
      deadlocks: rows[0]?.deadlocks ?? 0,
    }
    const before = this.#previous
    this.#previous = now
    // A statistics reset makes the counters go backwards: start again from here.
    if (!before || now.blksHit < before.blksHit || now.blksRead < before.blksRead || now.deadlocks < before.deadlocks) {
      checks.push({ rule: 'deadlocks', fired: false, detail: 'deadlocks: first snapshot of the counters taken' })
      return { fired: [], detail: 'buffer cache hit ratio: first snapshot of the counters taken' }
    }
    const newDeadlocks = now.deadlocks - before.deadlocks
    if (newDeadlocks >= t.minDeadlocks) {
      const reason = `${newDeadlocks} new deadlock${newDeadlocks === 1 ? '' : 's'} since the previous check (pg_stat_database.deadlocks went from ${before.deadlocks} to ${now.deadlocks}): transactions lock the same rows in different orders; the server log names them`
      findings.push(
        rule('deadlocks', 'warning', {
          reason,
          evidence: {
            newDeadlocks,
            deadlocksBefore: before.deadlocks,
            deadlocksNow: now.deadlocks,
            threshold: t.minDeadlocks,
          },
        }),
      )
      checks.push({ rule: 'deadlocks', fired: true, detail: `${newDeadlocks} new deadlocks` })
    } else checks.push({ rule: 'deadlocks', fired: false, detail: 'no new deadlocks' })

    const hit = now.blksHit - before.blksHit
    const read = now.blksRead - before.blksRead
    const blocks = hit + read
    if (blocks < t.minBufferBlocks)
      return {
        fired: [],
        detail: `buffer cache hit ratio not judged (${blocks} block accesses, fewer than ${t.minBufferBlocks})`,
      }
    const ratio = hit / blocks
    const detail = `buffer cache hit ratio ${pct(ratio)} over ${blocks} block accesses`
    if (ratio >= t.minBufferHitRatio) return { fired: [], detail }
    return {
      detail,
      fired: [
        rule('buffer-cache-hit-ratio', 'warning', {
          reason: `${detail}, below the ${pct(t.minBufferHitRatio)} target: the working set no longer fits in shared_buffers, or a large scan is evicting it`,
          evidence: { hitRatio: ratio, blocksHit: hit, blocksRead: read, threshold: t.minBufferHitRatio },
        }),
      ],
    }
  }

  async #replication(db: ReadOnlyDb) {
    const t = this.thresholds
    const { rows: recovery } = await db.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')
    if (recovery[0]?.standby)
      return { fired: [], detail: 'replication lag not checked here (this server is a standby)' }
    const { rows } = await db.query<{
      name: string
      state: string | null
      lag_ms: number | null
      lag_bytes: number | null
    }>(
      `SELECT coalesce(nullif(application_name, ''), client_addr::text, pid::text) AS name, state,
              (extract(epoch FROM replay_lag) * 1000)::float8 AS lag_ms,
              pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS lag_bytes
         FROM pg_stat_replication`,
    )
    if (rows.length === 0) return { fired: [], detail: 'replication lag not applicable (no standby connected)' }
    const fired: AgentFinding[] = []
    for (const r of rows) {
      const lagMs = r.lag_ms ?? 0
      const lagBytes = r.lag_bytes ?? 0
      if (lagMs <= t.maxReplicationLagMs && lagBytes <= t.maxReplicationLagBytes) continue
      fired.push(
        rule('replication-lag', lagMs > 10 * t.maxReplicationLagMs ? 'critical' : 'warning', {
          reason: `standby ${r.name} replays ${(lagMs / 1000).toFixed(1)} s (${bytes(lagBytes)}) behind the primary, above the ${(t.maxReplicationLagMs / 1000).toFixed(0)} s / ${bytes(t.maxReplicationLagBytes)} limit: reads from it are stale`,
          evidence: {
            standby: r.name,
            state: r.state,
            lagMs,
            lagBytes,
            maxLagMs: t.maxReplicationLagMs,
            maxLagBytes: t.maxReplicationLagBytes,
          },
        }),
      )
    }
    const worst = Math.max(...rows.map((r) => r.lag_ms ?? 0))
    return { fired, detail: `${rows.length} standby(s), worst replay lag ${(worst / 1000).toFixed(1)} s` }
  }

  async #deadTuples(db: ReadOnlyDb) {
    const t = this.thresholds
    const { rows } = await db.query<{
      schemaname: string
      relname: string
      live: number
      dead: number
      last_autovacuum: Date | null
      autovacuum_enabled: boolean
    }>(
      `SELECT s.schemaname, s.relname, s.n_live_tup::float8 AS live, s.n_dead_tup::float8 AS dead,
              greatest(s.last_autovacuum, s.last_vacuum) AS last_autovacuum,
              coalesce(c.reloptions, '{}') @> ARRAY['autovacuum_enabled=false'] IS NOT TRUE AS autovacuum_enabled
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.n_dead_tup >= $1::float8 AND s.n_dead_tup > $2::float8 * s.n_live_tup
        ORDER BY s.n_dead_tup DESC LIMIT ${DEAD_TUPLE_TABLES}`,
      [t.minDeadTuples, t.deadTupleFraction],
    )
    if (rows.length === 0)
      return {
        fired: [],
        detail: `no table has ${t.minDeadTuples} dead tuples over ${pct(t.deadTupleFraction)} of its live ones`,
      }
    const fired = rows.map((r) => {
      const table = `${r.schemaname}.${r.relname}`
      const fraction = r.dead / Math.max(1, r.live)
      const vacuum = !r.autovacuum_enabled
        ? 'autovacuum is disabled for it'
        : r.last_autovacuum
          ? `last vacuumed ${r.last_autovacuum.toISOString()}`
          : 'it was never vacuumed'
      return rule('dead-tuples', fraction >= 1 ? 'warning' : 'info', {
        reason: `${table} holds ${r.dead} dead tuples against ${r.live} live ones (${pct(fraction)}, above ${pct(t.deadTupleFraction)}) and ${vacuum}: scans read the dead rows too; VACUUM it or tune its autovacuum`,
        evidence: {
          table,
          deadTuples: r.dead,
          liveTuples: r.live,
          fraction,
          autovacuumEnabled: r.autovacuum_enabled,
          threshold: t.deadTupleFraction,
          minDeadTuples: t.minDeadTuples,
        },
      })
    })
    return { fired, detail: `${rows.length} table(s) over the dead-tuple threshold` }
  }

  #resultCache({ hits, lookups }: ResultCacheCounts) {
    const t = this.thresholds
    if (lookups < t.minResultCacheLookups)
      return {
        fired: [],
        detail: `result cache hit ratio not judged (${lookups} lookups, fewer than ${t.minResultCacheLookups})`,
      }
    const ratio = hits / lookups
    const detail = `result cache hit ratio ${pct(ratio)} over ${lookups} lookups`
    if (ratio >= t.minResultCacheHitRatio) return { fired: [], detail }
    return {
      detail,
      fired: [
        rule('result-cache-hit-ratio', 'warning', {
          reason: `${detail}, below the ${pct(t.minResultCacheHitRatio)} target: entries are invalidated or evicted faster than they are reused`,
          evidence: { hitRatio: ratio, hits, lookups, threshold: t.minResultCacheHitRatio },
        }),
      ],
    }
  }
}

function rule(
  name: ThresholdRuleName,
  severity: AgentFinding['severity'],
  f: { reason: string; evidence: Record<string, unknown> },
): AgentFinding {
  return { kind: 'anomaly.rule', severity, reason: f.reason, evidence: { rule: name, ...f.evidence } }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`
}

function bytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.round(n / 1024)} kB`
}
