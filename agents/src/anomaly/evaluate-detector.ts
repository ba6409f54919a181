import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { QueryEvent } from '@cairn/core'
import type { AgentWorkers, ReadOnlyDb } from '@cairn/plugins'
import type pg from 'pg'
import { seededRandom } from '../seeded-random.js'
import { AnomalyDetector, type AnomalyDetectorOptions } from './anomaly-detector.js'

/** The schema the evaluation builds its tables in, and drops afterwards. */
const SCHEMA = 'anomaly_eval'

/** What can go wrong in an interval, each really done to the database or the workload. */
export type InjectedAnomaly = 'dropped-index' | 'error-burst' | 'load-spike' | 'slow-plan'

interface Template {
  readonly name: string
  readonly text: string
  readonly relations: readonly string[]
  /** Executions per ordinary interval. */
  readonly executions: number
  params(random: () => number): string[]
}

const DAY_MS = 86_400_000
const YEAR_START = Date.parse('2024-01-01T00:00:00Z')

/** A handful of query templates of an e-commerce workload, over the evaluation's tables. */
function templates(customers: number, orders: number): Template[] {
  const customer = (r: () => number) => String(1 + Math.floor(r() * customers))
  return [
    {
      name: 'orders-by-customer',
      text: `SELECT order_id, order_ts, total_amount FROM ${SCHEMA}.orders WHERE customer_id = $1`,
      relations: [`${SCHEMA}.orders`],
      executions: 20,
      params: (r) => [customer(r)],
    },
    {
      name: 'status-mix-of-customer',
      text: `SELECT status, count(*) AS orders FROM ${SCHEMA}.orders WHERE customer_id = $1 GROUP BY status`,
      relations: [`${SCHEMA}.orders`],
      executions: 20,
      params: (r) => [customer(r)],
    },
    {
      name: 'revenue-in-hour',
      text: `SELECT count(*) AS orders, sum(total_amount) AS revenue FROM ${SCHEMA}.orders WHERE order_ts >= $1 AND order_ts < $2`,
      relations: [`${SCHEMA}.orders`],
      executions: 20,
      params: (r) => {
        const from = YEAR_START + Math.floor(r() * 360) * DAY_MS + Math.floor(r() * 24) * 3_600_000
        return [new Date(from).toISOString(), new Date(from + 3_600_000).toISOString()]
      },
    },
    {
      name: 'customer-by-id',
      text: `SELECT customer_id, email, segment FROM ${SCHEMA}.customers WHERE customer_id = $1`,
      relations: [`${SCHEMA}.customers`],
      executions: 20,
      params: (r) => [customer(r)],
    },
    {
      name: 'order-lines',
      text: `SELECT o.order_id, i.line_no, i.product_id, i.quantity, i.unit_price FROM ${SCHEMA}.orders o JOIN ${SCHEMA}.order_items i ON i.order_id = o.order_id WHERE o.order_id = $1`,
      relations: [`${SCHEMA}.orders`, `${SCHEMA}.order_items`],
      executions: 20,
      params: (r) => [String(1 + Math.floor(r() * orders))],
    },
    {
      name: 'signups-by-segment',
      text: `SELECT segment, count(*) AS customers FROM ${SCHEMA}.customers WHERE signup_ts >= $1 GROUP BY segment`,
      relations: [`${SCHEMA}.customers`],
      executions: 10,
      params: (r) => [new Date(YEAR_START + Math.floor(r() * 300) * DAY_MS).toISOString()],
    },
  ]
}

/** Which templates each injected anomaly really affects: the labels. */
const AFFECTS: Record<InjectedAnomaly, readonly string[]> = {
  'dropped-index': ['orders-by-customer', 'status-mix-of-customer'],
  'error-burst': ['order-lines'],
  'load-spike': ['customer-by-id'],
  'slow-plan': ['revenue-in-hour'],
}

export interface DetectorEvaluationOptions {
  /** A writable pool on a scratch database: the evaluation creates and drops the `anomaly_eval` schema. */
  readonly pool: pg.Pool
  /** What the detector reads and runs its forest with (an agent context's). */
  readonly db: ReadOnlyDb
  readonly workers: AgentWorkers
  readonly orders?: number
  readonly customers?: number
  /** Ordinary intervals before the first injection (baselines and the forest's history form). */
  readonly warmupIntervals?: number
  /** Evaluated intervals after the warm-up; an anomaly is injected in every third. */
  readonly intervals?: number
  /** Synthetic interval length: events carry compressed timestamps, so no interval takes this long. */
  readonly intervalMs?: number
  /** Seeds the workload's parameters and the order of the injections. */
  readonly seed?: number
  readonly detector?: AnomalyDetectorOptions
}

export interface LabelledInterval {
  readonly interval: number
  readonly template: string
  readonly injected: InjectedAnomaly | null
  /** The anomaly finding's sentence, when one was published. */
  readonly reason: string | null
}

/** Precision, recall and F1 of a set of flagged (fingerprint, interval) pairs. */
export interface DetectionScores {
  readonly precision: number
  readonly recall: number
  readonly f1: number
}

export interface DetectorEvaluation extends DetectionScores {
  readonly truePositives: number
  readonly falsePositives: number
  readonly falseNegatives: number
  /** (fingerprint, interval) pairs in the run, warm-up included. */
  readonly pairs: number
  readonly injections: readonly { interval: number; anomaly: InjectedAnomaly }[]
  readonly detected: readonly LabelledInterval[]
  readonly missed: readonly LabelledInterval[]
  readonly falseAlarms: readonly LabelledInterval[]
  readonly summaries: number
  /** The same pairs judged by the isolation forest alone (score at or above the threshold) and by the gate alone. */
  readonly forestOnly: DetectionScores
  readonly gateOnly: DetectionScores
}

/**
 * Measures the detector on injected anomalies: builds small real tables, runs a
 * fixed workload of query templates for real through `pg` (measured durations,
 * real rows, real SQLSTATEs) as query events on a compressed clock, injects
 * labelled anomalies in some intervals (a really dropped index, really failing
 * statements, ten times the executions, a session planning without index
 * scans), and scores the detector's `anomaly` findings at the (fingerprint,
 * interval) level.
 */
export async function evaluateDetector(options: DetectorEvaluationOptions): Promise<DetectorEvaluation> {
  const {
    pool,
    db,
    workers,
    orders = 100_000,
    customers = 10_000,
    warmupIntervals = 12,
    intervals = 36,
    intervalMs = 10_000,
    seed = 1,
    detector: detectorOptions = {},
  } = options
  const random = seededRandom(seed)
  const all = templates(customers, orders)
  await buildTables(pool, orders, customers)
  // The application's session runs every template; the slow-plan anomaly sends one template through a
  // second session that plans without index scans, as a misconfigured client would.
  const app = await pool.connect()
  const misconfigured = await pool.connect()
  try {
    await misconfigured.query('SET enable_indexscan = off; SET enable_bitmapscan = off')
    const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db')
    const database = rows[0]?.db ?? 'unknown'
    const t0 = Math.ceil(Date.parse('2025-03-03T14:00:00Z') / intervalMs) * intervalMs
    const fingerprintOf = new Map(all.map((t) => [fingerprint(t.text), t.name]))
    const keyOf = (fp: string, start: number) => `${Math.round((start - t0) / intervalMs)}/${fingerprintOf.get(fp)}`
    const byForest = new Set<string>()
    const byGate = new Set<string>()
    const threshold = detectorOptions.scoreThreshold ?? 0.6
    const detector = new AnomalyDetector(
      { db, workers },
      {
        ...detectorOptions,
        intervalMs,
        onScored: (x) => {
          if (x.score >= threshold) byForest.add(keyOf(x.features.fingerprint, x.features.start))
          if (x.signals.length > 0) byGate.add(keyOf(x.features.fingerprint, x.features.start))
          detectorOptions.onScored?.(x)
        },
      },
    )
    const kinds: InjectedAnomaly[] = ['dropped-index', 'error-burst', 'load-spike', 'slow-plan']
    const injections: { interval: number; anomaly: InjectedAnomaly }[] = []
    for (let i = 1, n = 0; i < intervals; i += 3, n++)
      injections.push({ interval: warmupIntervals + i, anomaly: kinds[(n + seed) % kinds.length] as InjectedAnomaly })
    const labels = new Map<string, InjectedAnomaly>()
    for (const { interval, anomaly } of injections)
      for (const name of AFFECTS[anomaly]) labels.set(`${interval}/${name}`, anomaly)

    const flagged = new Map<string, string>()
    let summaries = 0
    let pairs = 0
    for (let k = 0; k < warmupIntervals + intervals; k++) {
      const injected = injections.find((x) => x.interval === k)?.anomaly ?? null
      if (injected === 'dropped-index') await pool.query(`DROP INDEX ${SCHEMA}.orders_customer`)
      const start = t0 + k * intervalMs
      const plan = all.flatMap((t) => {
        const times =
          injected === 'load-spike' && AFFECTS['load-spike'].includes(t.name) ? t.executions * 10 : t.executions
        return Array.from({ length: times }, () => t)
      })
      shuffle(plan, random)
      for (let i = 0; i < plan.length; i++) {
        const t = plan[i] as Template
        const failing = injected === 'error-burst' && AFFECTS['error-burst'].includes(t.name) && random() < 0.5
        const params = failing ? ['not-a-number'] : t.params(random)
        const at = start + Math.floor(((i + 0.5) * intervalMs) / plan.length)
        const session = injected === 'slow-plan' && AFFECTS['slow-plan'].includes(t.name) ? misconfigured : app
        detector.observe(await execute(session, t, params, at, database))
      }
      pairs += all.length
      const findings = await detector.evaluate(start + intervalMs)
      if (injected === 'dropped-index')
        await pool.query(`CREATE INDEX orders_customer ON ${SCHEMA}.orders (customer_id)`)
      for (const f of findings) {
        if (f.kind === 'anomaly.summary') summaries++
        if (f.kind !== 'anomaly') continue
        const { fingerprint: fp, interval } = f.evidence as { fingerprint: string; interval: { start: number } }
        if (fingerprintOf.has(fp)) flagged.set(keyOf(fp, interval.start), f.reason)
      }
    }

    const pair = (key: string): LabelledInterval => {
      const [interval, template] = key.split('/') as [string, string]
      return {
        interval: Number(interval),
        template,
        injected: labels.get(key) ?? null,
        reason: flagged.get(key) ?? null,
      }
    }
    const detected = [...flagged.keys()].filter((k) => labels.has(k)).map(pair)
    const falseAlarms = [...flagged.keys()].filter((k) => !labels.has(k)).map(pair)
    const missed = [...labels.keys()].filter((k) => !flagged.has(k)).map(pair)
    return {
      ...detectionScores(new Set(flagged.keys()), labels),
      truePositives: detected.length,
      falsePositives: falseAlarms.length,
      falseNegatives: missed.length,
      pairs,
      injections,
      detected,
      missed,
      falseAlarms,
      summaries,
      forestOnly: detectionScores(byForest, labels),
      gateOnly: detectionScores(byGate, labels),
    }
  } finally {
    app.release()
    // Destroyed, not returned: its settings must not reach whoever takes the connection next.
    misconfigured.release(true)
    await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)
  }
}

function detectionScores(flagged: ReadonlySet<string>, labels: ReadonlyMap<string, unknown>): DetectionScores {
  const tp = [...flagged].filter((k) => labels.has(k)).length
  const precision = flagged.size > 0 ? tp / flagged.size : 0
  const recall = labels.size > 0 ? tp / labels.size : 0
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 }
}

async function buildTables(pool: pg.Pool, orders: number, customers: number): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`)
  await pool.query(`CREATE TABLE ${SCHEMA}.customers (
    customer_id bigint PRIMARY KEY, email text NOT NULL, segment text NOT NULL, signup_ts timestamptz NOT NULL)`)
  await pool.query(
    `INSERT INTO ${SCHEMA}.customers
     SELECT g, 'customer' || g || '@example.com', (ARRAY['new', 'regular', 'vip'])[1 + g % 3],
            timestamptz '2024-01-01' + (g % 365) * interval '1 day'
       FROM generate_series(1, $1::int) g`,
    [customers],
  )
  await pool.query(`CREATE TABLE ${SCHEMA}.orders (
    order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, order_ts timestamptz NOT NULL,
    status text NOT NULL, total_amount numeric(12, 2) NOT NULL)`)
  // Orders spread over a year; customers interleaved so each has orders/customers of them.
  await pool.query(
    `INSERT INTO ${SCHEMA}.orders
     SELECT g, 1 + (g * 7919) % $2::int, timestamptz '2024-01-01' + g * (interval '365 days' / $1::int),
            (ARRAY['placed', 'paid', 'shipped', 'delivered', 'returned'])[1 + g % 5], 9.99 + g % 500
       FROM generate_series(1, $1::int) g`,
    [orders, customers],
  )
  await pool.query(`CREATE TABLE ${SCHEMA}.order_items (
    order_id bigint NOT NULL, line_no int NOT NULL, product_id bigint NOT NULL, quantity int NOT NULL,
    unit_price numeric(12, 2) NOT NULL, PRIMARY KEY (order_id, line_no))`)
  await pool.query(
    `INSERT INTO ${SCHEMA}.order_items
     SELECT o, l, 1 + (o * 31 + l) % 2000, 1 + (o + l) % 4, 0.5 + (o * l) % 100
       FROM generate_series(1, $1::int) o, generate_series(1, 2) l`,
    [orders],
  )
  await pool.query(`CREATE INDEX orders_customer ON ${SCHEMA}.orders (customer_id)`)
  await pool.query(`CREATE INDEX orders_order_ts ON ${SCHEMA}.orders (order_ts)`)
  // Vacuumed now (hint bits, visibility map) and kept from autovacuum: background maintenance during
  // the run would slow statements in intervals no anomaly was injected in, and muddle the labels.
  for (const table of ['customers', 'orders', 'order_items']) {
    await pool.query(`ALTER TABLE ${SCHEMA}.${table} SET (autovacuum_enabled = false)`)
    await pool.query(`VACUUM (ANALYZE) ${SCHEMA}.${table}`)
  }
}

/** Runs one statement for real and describes it as the proxy would. */
async function execute(
  session: pg.PoolClient,
  t: Template,
  params: string[],
  at: number,
  database: string,
): Promise<QueryEvent> {
  const began = performance.now()
  let rows = 0
  let sqlstate: string | undefined
  try {
    rows = (await session.query(t.text, params)).rows.length
  } catch (err) {
    sqlstate = (err as { code?: string }).code ?? 'XX000'
  }
  const durationMs = performance.now() - began
  return {
    at,
    database,
    user: 'evaluation',
    applicationName: 'anomaly-evaluation',
    sessionId: t.name,
    fingerprint: fingerprint(t.text),
    normalizedText: t.text,
    text: t.text,
    params,
    kind: 'select',
    relationsRead: [...t.relations],
    relationsWritten: [],
    deterministic: true,
    nondeterministicReasons: [],
    columns: [],
    durationMs,
    poolWaitMs: 0,
    rows,
    bytesOut: 0,
    ...(sqlstate ? { sqlstate } : {}),
  }
}

/** As the proxy fingerprints a normalized statement. */
function fingerprint(normalizedText: string): string {
  return createHash('sha1').update(normalizedText).digest('hex').slice(0, 16)
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j] as T, items[i] as T]
  }
}
