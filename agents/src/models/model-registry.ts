import { errors, inTransaction } from '@cairn/core'
import type pg from 'pg'

export type ModelOutput = 'ln_ms' | 'ms'

/** One stored version of a model, without its bytes. */
export interface ModelVersion {
  readonly name: string
  readonly version: number
  readonly createdAt: Date
  /** `gradient-boosted-trees` when trained here, `onnx-import` when brought from elsewhere. */
  readonly algorithm: string
  readonly featureNames: readonly string[]
  readonly output: ModelOutput
  readonly trainedFrom?: Date
  readonly trainedTo?: Date
  readonly sampleCount: number
  /** Accuracy on held-out rows: `heldOut.medianQError`, `heldOut.p90QError`, … */
  readonly metrics: Record<string, unknown>
  readonly active: boolean
  readonly activatedAt?: Date
  readonly sizeBytes: number
}

/** A version with its ONNX bytes, what an agent loads. */
export interface ModelArtifact extends ModelVersion {
  readonly onnx: Uint8Array
}

export interface NewModelVersion {
  readonly name: string
  readonly algorithm: string
  readonly featureNames: readonly string[]
  readonly output?: ModelOutput
  readonly trainedFrom?: Date
  readonly trainedTo?: Date
  readonly sampleCount?: number
  readonly metrics?: Record<string, unknown>
  readonly onnx: Uint8Array
  /** Make it the active version in the same transaction. Default false. */
  readonly activate?: boolean
}

const NAME = /^[a-z][a-z0-9_-]*$/
const COLUMNS = `name, version, created_at, algorithm, feature_names, output, trained_from, trained_to, sample_count,
  metrics, active, activated_at, octet_length(onnx) AS size_bytes`

interface ModelRow {
  name: string
  version: number
  created_at: Date
  algorithm: string
  feature_names: string[]
  output: ModelOutput
  trained_from: Date | null
  trained_to: Date | null
  sample_count: number
  metrics: Record<string, unknown>
  active: boolean
  activated_at: Date | null
  size_bytes: number
  onnx?: Buffer
}

/**
 * `cairn_meta.models`: every version of every model, numbered per name from 1,
 * at most one active per name (a partial unique index holds it to that).
 */
export class ModelRegistry {
  readonly #pool: pg.Pool

  constructor(pool: pg.Pool) {
    this.#pool = pool
  }

  /** Versions, newest first; all models', or one name's. */
  async list(name?: string): Promise<ModelVersion[]> {
    const { rows } = await this.#pool.query<ModelRow>(
      `SELECT ${COLUMNS} FROM cairn_meta.models WHERE $1::text IS NULL OR name = $1 ORDER BY name, version DESC`,
      [name ?? null],
    )
    return rows.map(toVersion)
  }

  /** Stores a new version, numbered one past the newest of its name. */
  async register(model: NewModelVersion): Promise<ModelVersion> {
    if (!NAME.test(model.name))
      throw errors.CONFIG_INVALID(`model name ${JSON.stringify(model.name)} must match ${NAME.source}`)
    return inTransaction(this.#pool, async (client) => {
      // Serializes registrations of one name, so two trainers never take the same version number.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('cairn_meta.models'), hashtext($1))`, [model.name])
      if (model.activate)
        await client.query('UPDATE cairn_meta.models SET active = false WHERE name = $1 AND active', [model.name])
      const { rows } = await client.query<ModelRow>(
        `INSERT INTO cairn_meta.models (name, version, algorithm, feature_names, output, trained_from, trained_to,
           sample_count, metrics, onnx, active, activated_at)
         SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $10 THEN now() END
           FROM cairn_meta.models WHERE name = $1
         RETURNING ${COLUMNS}`,
        [
          model.name,
          model.algorithm,
          model.featureNames,
          model.output ?? 'ln_ms',
          model.trainedFrom ?? null,
          model.trainedTo ?? null,
          model.sampleCount ?? 0,
          JSON.stringify(model.metrics ?? {}),
          Buffer.from(model.onnx.buffer, model.onnx.byteOffset, model.onnx.byteLength),
          model.activate ?? false,
        ],
      )
      return toVersion(rows[0] as ModelRow)
    })
  }

  /** Makes `version` the one active version of `name`; the previously active one is deactivated in the same transaction. */
  async activate(name: string, version: number): Promise<ModelVersion> {
    return inTransaction(this.#pool, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('cairn_meta.models'), hashtext($1))`, [name])
      const exists = await client.query('SELECT 1 FROM cairn_meta.models WHERE name = $1 AND version = $2', [
        name,
        version,
      ])
      if (exists.rowCount === 0) throw errors.MODEL_NOT_FOUND(`model ${name} has no version ${version}`)
      // Two statements: the partial unique index is checked row by row, so the old one must go first.
      await client.query('UPDATE cairn_meta.models SET active = false WHERE name = $1 AND active AND version <> $2', [
        name,
        version,
      ])
      const { rows } = await client.query<ModelRow>(
        `UPDATE cairn_meta.models SET active = true, activated_at = CASE WHEN active THEN activated_at ELSE now() END
          WHERE name = $1 AND version = $2 RETURNING ${COLUMNS}`,
        [name, version],
      )
      return toVersion(rows[0] as ModelRow)
    })
  }

  /** The active version's number, a cheap poll for a change. */
  async activeVersion(name: string): Promise<number | undefined> {
    const { rows } = await this.#pool.query<{ version: number }>(
      'SELECT version FROM cairn_meta.models WHERE name = $1 AND active',
      [name],
    )
    return rows[0]?.version
  }

  /** The active version with its bytes, or undefined when none is active. */
  async loadActive(name: string): Promise<ModelArtifact | undefined> {
    return this.#loadWhere('name = $1 AND active', [name])
  }

  async load(name: string, version: number): Promise<ModelArtifact | undefined> {
    return this.#loadWhere('name = $1 AND version = $2', [name, version])
  }

  /** The newest version of `name`, active or not. */
  async latest(name: string): Promise<ModelVersion | undefined> {
    return (await this.list(name))[0]
  }

  async #loadWhere(where: string, params: unknown[]): Promise<ModelArtifact | undefined> {
    const { rows } = await this.#pool.query<ModelRow>(
      `SELECT ${COLUMNS}, onnx FROM cairn_meta.models WHERE ${where}`,
      params,
    )
    const row = rows[0]
    if (!row?.onnx) return undefined
    return { ...toVersion(row), onnx: new Uint8Array(row.onnx.buffer, row.onnx.byteOffset, row.onnx.byteLength) }
  }
}

function toVersion(row: ModelRow): ModelVersion {
  return {
    name: row.name,
    version: row.version,
    createdAt: row.created_at,
    algorithm: row.algorithm,
    featureNames: row.feature_names,
    output: row.output,
    ...(row.trained_from ? { trainedFrom: row.trained_from } : {}),
    ...(row.trained_to ? { trainedTo: row.trained_to } : {}),
    sampleCount: row.sample_count,
    metrics: row.metrics,
    active: row.active,
    ...(row.activated_at ? { activatedAt: row.activated_at } : {}),
    sizeBytes: Number(row.size_bytes),
  }
}
