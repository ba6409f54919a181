import type pg from 'pg'
import { seededRandom } from '../seeded-random.js'
import type { FingerprintSamples } from './judge-verification.js'

export interface ReplayOptions {
  /** Total replay time, before and after together (each phase gets half). Default 60 s. */
  readonly budgetMs?: number
  /** Most recent distinct statements (text + parameters) replayed per fingerprint. Default 3. */
  readonly statementsPerFingerprint?: number
  /** How far back statements are sampled and frequencies counted. Default 24 h. */
  readonly windowMs?: number
  /** Passes over the sample per phase, at least and at most; the budget decides in between. Defaults 5 and 20. */
  readonly minPasses?: number
  readonly maxPasses?: number
  /** `statement_timeout` and `lock_timeout` of each replayed statement. Default 10 s. */
  readonly statementTimeoutMs?: number
  /** Seeds the order of statements within passes. Default 1. */
  readonly seed?: number
}

/** A captured statement to replay, as the proxy recorded it. */
export interface ReplayStatement {
  readonly fingerprint: string
  readonly kind: string
  readonly text: string
  readonly params: readonly (string | null)[] | null
}

/** Each statement's latencies (ms) over the passes of one phase, and the errors it met. */
export interface PhaseMeasurement {
  readonly passes: number
  readonly durationMs: number
  readonly latencies: readonly (readonly number[])[]
  readonly errors: readonly { readonly count: number; readonly first?: string }[]
}

/** The sample, the affected fingerprints' frequencies and the measurement before the change. */
export interface Baseline {
  readonly statements: readonly ReplayStatement[]
  readonly frequencies: ReadonlyMap<string, { executions: number; perHour: number }>
  readonly before: PhaseMeasurement
  /** Fingerprints with no statement to replay (none captured with its text, or all failing before the change). */
  readonly unmeasured: readonly string[]
}

const replayedKinds = ['select', 'insert', 'update', 'delete']

interface Settings {
  budgetMs: number
  statementsPerFingerprint: number
  windowMs: number
  minPasses: number
  maxPasses: number
  statementTimeoutMs: number
  seed: number
}

const settingsOf = (o: ReplayOptions): Settings => ({
  budgetMs: o.budgetMs ?? 60_000,
  statementsPerFingerprint: o.statementsPerFingerprint ?? 3,
  windowMs: o.windowMs ?? 86_400_000,
  minPasses: o.minPasses ?? 5,
  maxPasses: o.maxPasses ?? 20,
  statementTimeoutMs: o.statementTimeoutMs ?? 10_000,
  seed: o.seed ?? 1,
})

/** The most recent distinct successful statements per fingerprint, and each fingerprint's executions. */
async function sampleWorkload(
  pool: pg.Pool,
  fingerprints: readonly string[],
  s: Settings,
): Promise<Pick<Baseline, 'statements' | 'frequencies'>> {
  const window = `${Math.round(s.windowMs)} milliseconds`
  const { rows: counts } = await pool.query<{ fingerprint: string; executions: string; span_hours: number }>(
    `WITH recent AS (
       SELECT fingerprint, at FROM cairn_meta.query_events
       WHERE fingerprint = ANY($1) AND at >= now() - $2::interval)
     SELECT fingerprint, count(*) AS executions,
            -- One span for all: rates comparable across fingerprints; at least a minute, so a young workload is not inflated without bound.
            greatest(extract(epoch FROM now() - (SELECT min(at) FROM recent)) / 3600, 1.0 / 60)::float8 AS span_hours
     FROM recent GROUP BY fingerprint`,
    [fingerprints, window],
  )
  const frequencies = new Map(
    counts.map((c) => [
      c.fingerprint,
      { executions: Number(c.executions), perHour: Number(c.executions) / c.span_hours },
    ]),
  )
  const { rows } = await pool.query<{
    fingerprint: string
    kind: string
    text: string
    params: (string | null)[] | null
  }>(
    `SELECT fingerprint, kind, text, params FROM (
       SELECT *, row_number() OVER (PARTITION BY fingerprint ORDER BY at DESC) AS rank FROM (
         SELECT DISTINCT ON (fingerprint, statement_text, params)
                fingerprint, kind, statement_text AS text, params, at
         FROM cairn_meta.query_events
         WHERE fingerprint = ANY($1) AND at >= now() - $2::interval AND statement_text IS NOT NULL
           AND sqlstate IS NULL AND kind = ANY($4)
         ORDER BY fingerprint, statement_text, params, at DESC) AS distinct_statements) AS ranked
     WHERE rank <= $3
     ORDER BY fingerprint, rank`,
    [fingerprints, window, s.statementsPerFingerprint, replayedKinds],
  )
  return { statements: rows, frequencies }
}

function shuffled(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j] as number, order[i] as number]
  }
  return order
}

/**
 * Runs one statement the way verification replays it: inside a transaction
 * that is always rolled back (READ ONLY for reads), so a replayed write changes
 * nothing (it does take its row locks for that moment); only the statement
 * itself is timed. Returns its latency in ms, or
 * the error.
 */
async function replayOnce(client: pg.ClientBase, st: ReplayStatement): Promise<number | Error> {
  await client.query(st.kind === 'select' ? 'BEGIN READ ONLY' : 'BEGIN')
  try {
    const started = performance.now()
    // The extended protocol always: PostgreSQL parses exactly one statement there, so a captured text can
    // never carry a COMMIT of its own past the rollback.
    const query = { text: st.text, values: [...(st.params ?? [])], queryMode: 'extended' }
    await client.query(query as pg.QueryConfig)
    return performance.now() - started
  } catch (err) {
    return err as Error
  } finally {
    await client.query('ROLLBACK')
  }
}

/**
 * Replays the sample: a warm-up pass (discarded: caches after a build or a
 * drop start cold), then `passes` passes, or as many as fit `phaseBudgetMs`
 * (between min and max) when passes is not given. Each pass runs every
 * statement once, in a fresh shuffled order, so the fingerprints interleave
 * and drift over the phase spreads evenly across them.
 */
async function replayPhase(
  pool: pg.Pool,
  statements: readonly ReplayStatement[],
  s: Settings,
  include: readonly boolean[],
  passes?: number,
): Promise<PhaseMeasurement> {
  const client = await pool.connect()
  const started = performance.now()
  const random = seededRandom(s.seed + (passes ?? 0))
  const latencies: number[][] = statements.map(() => [])
  const errors = statements.map(() => ({ count: 0 }) as { count: number; first?: string })
  try {
    const timeout = `${Math.max(1, Math.round(s.statementTimeoutMs))}ms`
    await client.query(`SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $1, false)`, [
      timeout,
    ])
    const pass = async (record: boolean) => {
      for (const i of shuffled(statements.length, random)) {
        if (!include[i]) continue
        const result = await replayOnce(client, statements[i] as ReplayStatement)
        if (!record) continue
        if (result instanceof Error) {
          const e = errors[i] as { count: number; first?: string }
          e.count++
          e.first ??= result.message
        } else latencies[i]?.push(result)
      }
    }
    const warmStarted = performance.now()
    await pass(false)
    const passMs = Math.max(0.1, performance.now() - warmStarted)
    const planned =
      passes ?? Math.min(s.maxPasses, Math.max(s.minPasses, Math.floor((s.budgetMs / 2 - passMs) / passMs)))
    // A change that made the statements much slower would stretch the after phase far past its budget:
    // past twice its half, it stops once it has the minimum passes (the judgement needs no more to see it).
    let done = 0
    while (done < planned) {
      await pass(true)
      done++
      if (done >= s.minPasses && performance.now() - started > s.budgetMs) break
    }
    return { passes: done, durationMs: performance.now() - started, latencies, errors }
  } finally {
    // Destroyed rather than returned: its session settings must not reach the pool's other users.
    client.release(true)
  }
}

/**
 * Captures the baseline of a change before it is applied: samples the most
 * recent distinct statements of the affected fingerprints (text and
 * parameters, from `cairn_meta.query_events`), counts their frequencies, and
 * replays them within half the budget. Statements failing before the change
 * are left out (they depend on a session's state, or their rows are gone).
 */
export async function captureBaseline(
  pool: pg.Pool,
  fingerprints: readonly string[],
  options: ReplayOptions = {},
): Promise<Baseline> {
  const s = settingsOf(options)
  const sample = await sampleWorkload(pool, fingerprints, s)
  const all = sample.statements.map(() => true)
  const first = await replayPhase(pool, sample.statements, s, all)
  const kept = sample.statements.map((_, i) => (first.errors[i]?.count ?? 0) === 0)
  const statements = sample.statements.filter((_, i) => kept[i])
  const before: PhaseMeasurement = {
    ...first,
    latencies: first.latencies.filter((_, i) => kept[i]),
    errors: first.errors.filter((_, i) => kept[i]),
  }
  const measured = new Set(statements.map((st) => st.fingerprint))
  return {
    statements,
    frequencies: sample.frequencies,
    before,
    unmeasured: fingerprints.filter((f) => !measured.has(f)),
  }
}

/** Replays the baseline's statements after the change, the same number of passes the same way (fewer if it overruns). */
export async function replayAfter(
  pool: pg.Pool,
  baseline: Baseline,
  options: ReplayOptions = {},
): Promise<PhaseMeasurement> {
  return replayPhase(
    pool,
    baseline.statements,
    settingsOf(options),
    baseline.statements.map(() => true),
    baseline.before.passes,
  )
}

/** Pools each fingerprint's latencies (its statements together) for the judgement. */
export function fingerprintSamples(baseline: Baseline, after: PhaseMeasurement): FingerprintSamples[] {
  const byFingerprint = new Map<
    string,
    { before: number[]; after: number[]; errorsBefore: number; errorsAfter: number; firstErrorAfter?: string }
  >()
  baseline.statements.forEach((st, i) => {
    const f = byFingerprint.get(st.fingerprint) ?? { before: [], after: [], errorsBefore: 0, errorsAfter: 0 }
    f.before.push(...(baseline.before.latencies[i] ?? []))
    f.after.push(...(after.latencies[i] ?? []))
    f.errorsBefore += baseline.before.errors[i]?.count ?? 0
    const e = after.errors[i]
    f.errorsAfter += e?.count ?? 0
    if (e?.first !== undefined) f.firstErrorAfter ??= e.first
    byFingerprint.set(st.fingerprint, f)
  })
  return [...byFingerprint].map(([fingerprint, f]) => {
    const freq = baseline.frequencies.get(fingerprint)
    return { fingerprint, executions: freq?.executions ?? 1, perHour: freq?.perHour ?? 0, ...f }
  })
}

/**
 * Vacuums and analyzes of a relation so far (manual and automatic). Compared
 * before the baseline and after the last replay: one in between changes the
 * table under the measurement, which the verdict then says.
 */
export async function maintenanceCount(pool: pg.Pool, relation: string): Promise<number> {
  const { rows } = await pool.query<{ n: string | null }>(
    `SELECT vacuum_count + autovacuum_count + analyze_count + autoanalyze_count AS n
     FROM pg_stat_user_tables WHERE relid = to_regclass($1)`,
    [relation],
  )
  return Number(rows[0]?.n ?? 0)
}
