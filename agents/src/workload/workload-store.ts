import type pg from 'pg'
import type { KnownCluster } from './cluster-workload.js'

/** A cluster to persist: `id` null for a new one, which gets its id here. */
export interface ClusterToSave {
  readonly id: number | null
  readonly label: string
  readonly centroid: Readonly<Record<string, number>>
  readonly executions: number
  readonly members: readonly {
    readonly fingerprint: string
    readonly normalizedText: string
    readonly executions: number
  }[]
}

export interface ForecastToSave {
  readonly clusterId: number
  readonly horizon: number
  readonly bucketStart: number
  readonly predicted: number
  readonly heldBackMae: number
  readonly heldBackSmape: number
  readonly naiveMae: number
  readonly naiveSmape: number
}

/** The clusterer's tables in `cairn_meta` (migration 0011), written through the agent's own pool. */
export class WorkloadStore {
  constructor(private readonly pool: pg.Pool) {}

  /** The active clusters and their members: what a restarted agent matches its first clustering against. */
  async load(): Promise<KnownCluster[]> {
    const { rows } = await this.pool.query<{
      cluster_id: string
      label: string
      centroid: Record<string, number>
      members: string[]
    }>(
      `SELECT c.cluster_id, c.label, c.centroid,
              COALESCE(array_agg(m.fingerprint ORDER BY m.fingerprint) FILTER (WHERE m.fingerprint IS NOT NULL), '{}') AS members
       FROM cairn_meta.workload_clusters c
       LEFT JOIN cairn_meta.workload_cluster_members m USING (cluster_id)
       WHERE c.retired_at IS NULL
       GROUP BY c.cluster_id
       ORDER BY c.cluster_id`,
    )
    return rows.map((r) => ({ id: Number(r.cluster_id), label: r.label, centroid: r.centroid, members: r.members }))
  }

  /** Writes one clustering in a transaction: new clusters inserted, continuing ones updated, the others retired. Returns the ids in order. */
  async save(clusters: readonly ClusterToSave[], retired: readonly number[]): Promise<number[]> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const ids: number[] = []
      for (const c of clusters) {
        const values = [c.label, JSON.stringify(c.centroid), c.members.length, c.executions]
        if (c.id === null) {
          const { rows } = await client.query<{ cluster_id: string }>(
            `INSERT INTO cairn_meta.workload_clusters (label, centroid, fingerprints, executions)
             VALUES ($1, $2, $3, $4) RETURNING cluster_id`,
            values,
          )
          ids.push(Number(rows[0]?.cluster_id))
        } else {
          await client.query(
            `UPDATE cairn_meta.workload_clusters
             SET label = $1, centroid = $2, fingerprints = $3, executions = $4, updated_at = now(), retired_at = NULL
             WHERE cluster_id = $5`,
            [...values, c.id],
          )
          ids.push(c.id)
        }
      }
      if (retired.length > 0) {
        await client.query(
          'UPDATE cairn_meta.workload_clusters SET retired_at = now(), updated_at = now() WHERE cluster_id = ANY($1::bigint[])',
          [retired],
        )
      }
      const members = clusters.flatMap((c, i) => c.members.map((m) => ({ ...m, clusterId: ids[i] as number })))
      // A template that stays in its cluster keeps the time it joined it.
      await client.query(
        `INSERT INTO cairn_meta.workload_cluster_members (fingerprint, cluster_id, normalized_text, executions)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])
         ON CONFLICT (fingerprint) DO UPDATE
         SET cluster_id = excluded.cluster_id, normalized_text = excluded.normalized_text, executions = excluded.executions,
             assigned_at = CASE WHEN workload_cluster_members.cluster_id = excluded.cluster_id
                                THEN workload_cluster_members.assigned_at ELSE now() END`,
        [
          members.map((m) => m.fingerprint),
          members.map((m) => m.clusterId),
          members.map((m) => m.normalizedText),
          members.map((m) => m.executions),
        ],
      )
      await client.query('DELETE FROM cairn_meta.workload_cluster_members WHERE NOT (fingerprint = ANY($1::text[]))', [
        members.map((m) => m.fingerprint),
      ])
      await client.query('COMMIT')
      return ids
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async saveForecasts(madeAt: number, bucketMs: number, forecasts: readonly ForecastToSave[]): Promise<void> {
    if (forecasts.length === 0) return
    await this.pool.query(
      `INSERT INTO cairn_meta.workload_forecasts (cluster_id, made_at, bucket_ms, horizon, bucket_start, predicted,
         held_back_mae, held_back_smape, naive_mae, naive_smape)
       SELECT c, to_timestamp($1 / 1000.0), $2, h, to_timestamp(b / 1000.0), p, m, s, nm, ns
       FROM unnest($3::bigint[], $4::int[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[])
         AS t(c, h, b, p, m, s, nm, ns)
       ON CONFLICT DO NOTHING`,
      [
        madeAt,
        bucketMs,
        forecasts.map((f) => f.clusterId),
        forecasts.map((f) => f.horizon),
        forecasts.map((f) => f.bucketStart),
        forecasts.map((f) => f.predicted),
        forecasts.map((f) => f.heldBackMae),
        forecasts.map((f) => f.heldBackSmape),
        forecasts.map((f) => f.naiveMae),
        forecasts.map((f) => f.naiveSmape),
      ],
    )
  }
}
