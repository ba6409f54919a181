import type pg from 'pg'

/** One training sample: a sampled SELECT's plan features and how long it took. */
export interface LatencySample {
  readonly at: Date
  readonly fingerprint: string
  readonly features: readonly number[]
  readonly actualMs: number
  readonly planHash: string
  readonly planShape: string
  readonly clusterId?: number
}

export interface StoredLatencySample extends LatencySample {
  readonly sampleId: number
}

export interface LatencySampleStoreOptions {
  /** Rows kept: each `trim()` deletes all but the newest this many. Default 50 000. */
  readonly maxSamples?: number
}

// Rows per INSERT: 7 parameters each, well under PostgreSQL's 65 535.
const INSERT_BATCH = 500

/** `cairn_meta.latency_samples`, bounded to the newest `maxSamples` rows. */
export class LatencySampleStore {
  readonly #pool: pg.Pool
  readonly maxSamples: number

  constructor(pool: pg.Pool, { maxSamples = 50_000 }: LatencySampleStoreOptions = {}) {
    this.#pool = pool
    this.maxSamples = maxSamples
  }

  async append(samples: readonly LatencySample[]): Promise<void> {
    for (let start = 0; start < samples.length; start += INSERT_BATCH) {
      const batch = samples.slice(start, start + INSERT_BATCH)
      const params: unknown[] = []
      const values = batch.map((s) => {
        params.push(s.at, s.fingerprint, s.features, s.actualMs, s.planHash, s.planShape, s.clusterId ?? null)
        const p = params.length - 6
        return `($${p}, $${p + 1}, $${p + 2}::real[], $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6})`
      })
      await this.#pool.query(
        `INSERT INTO cairn_meta.latency_samples (at, fingerprint, features, actual_ms, plan_hash, plan_shape, cluster_id)
         VALUES ${values.join(', ')}`,
        params,
      )
    }
  }

  /** Deletes all but the newest `maxSamples` rows; returns how many went. */
  async trim(): Promise<number> {
    const { rowCount } = await this.#pool.query(
      `DELETE FROM cairn_meta.latency_samples
        WHERE sample_id <= (SELECT sample_id FROM cairn_meta.latency_samples ORDER BY sample_id DESC OFFSET $1 LIMIT 1)`,
      [this.maxSamples],
    )
    return rowCount ?? 0
  }

  async count(since?: Date): Promise<number> {
    const { rows } = await this.#pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM cairn_meta.latency_samples WHERE $1::timestamptz IS NULL OR at > $1',
      [since ?? null],
    )
    return Number(rows[0]?.n ?? 0)
  }

  /** The newest `limit` samples, oldest first. */
  async newest(limit: number): Promise<StoredLatencySample[]> {
    const { rows } = await this.#pool.query<{
      sample_id: string
      at: Date
      fingerprint: string
      features: number[]
      actual_ms: number
      plan_hash: string
      plan_shape: string
      cluster_id: number | null
    }>(
      `SELECT * FROM (SELECT * FROM cairn_meta.latency_samples ORDER BY sample_id DESC LIMIT $1) s ORDER BY sample_id`,
      [limit],
    )
    return rows.map((r) => ({
      sampleId: Number(r.sample_id),
      at: r.at,
      fingerprint: r.fingerprint,
      features: r.features.map(Number),
      actualMs: r.actual_ms,
      planHash: r.plan_hash,
      planShape: r.plan_shape,
      ...(r.cluster_id === null ? {} : { clusterId: r.cluster_id }),
    }))
  }
}
