import { createHash } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { errors } from '@cairn/core'
import type { SourceBatch } from '@cairn/plugins'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { copyTextRow } from './copy-text.js'

export interface BronzeLoadResult {
  /** False when the batch id was already in the ledger: nothing was added. */
  readonly loaded: boolean
  readonly rows: number
  readonly bytes: number
}

const ENTITY = /^[a-z][a-z0-9_]{0,62}$/
/** COPY data is sent in chunks of about this many bytes (per-row chunks are many times slower). */
const CHUNK_BYTES = 256 * 1024

/** The advisory lock key bronze loads take shared and the silver step of the entity takes exclusive. */
export function bronzeLockKey(entity: string): string {
  return `cairn.bronze.${entity}`
}

/**
 * Loads source batches into `bronze.<entity>` with COPY, each batch at most
 * once: its id goes into `cairn_meta.bronze_batches` in the same transaction
 * as its rows, together with the source's checkpoint. `ack` runs after the
 * commit, and also when the batch was already loaded (a redelivery).
 */
export class BronzeLoader {
  readonly #pool: pg.Pool
  readonly #ensured = new Set<string>()

  constructor(pool: pg.Pool) {
    this.#pool = pool
  }

  async load(source: string, batch: SourceBatch): Promise<BronzeLoadResult> {
    if (!ENTITY.test(batch.entity) || batch.entity === '_template')
      throw errors.PIPELINE_INVALID_BATCH(`source ${source}: entity name ${JSON.stringify(batch.entity)} is not valid`)
    if (batch.id.length === 0) throw errors.PIPELINE_INVALID_BATCH(`source ${source}: a batch needs an id`)
    await this.#ensureTable(batch.entity)
    const client = await this.#pool.connect()
    let result: BronzeLoadResult
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock_shared(hashtext($1))', [bronzeLockKey(batch.entity)])
      const ledger = await client.query(
        `INSERT INTO cairn_meta.bronze_batches (batch_id, source, entity, position, rows)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id) DO NOTHING RETURNING 1`,
        [batch.id, source, batch.entity, batch.position ?? null, batch.records.length],
      )
      if (ledger.rowCount === 0) {
        await client.query('ROLLBACK')
        result = { loaded: false, rows: 0, bytes: 0 }
      } else {
        const bytes = await this.#copy(client, source, batch)
        if (batch.checkpoint) {
          await client.query(
            `INSERT INTO cairn_meta.source_checkpoints (source, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_at = now()`,
            [source, batch.checkpoint.key, batch.checkpoint.value],
          )
        }
        await client.query('COMMIT')
        result = { loaded: true, rows: batch.records.length, bytes }
      }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      client.release(err as Error)
      throw err
    }
    client.release()
    await batch.ack?.()
    return result
  }

  /** The checkpoints a source stored with its batches. */
  async checkpoints(source: string): Promise<Map<string, string>> {
    const { rows } = await this.#pool.query<{ key: string; value: string }>(
      'SELECT key, value FROM cairn_meta.source_checkpoints WHERE source = $1',
      [source],
    )
    return new Map(rows.map((r) => [r.key, r.value]))
  }

  async #copy(client: pg.PoolClient, source: string, batch: SourceBatch): Promise<number> {
    const receivedAt = new Date().toISOString()
    const table = `bronze.${batch.entity}`
    const stream = client.query(
      copyFrom(
        `COPY ${table} (batch_id, source, source_position, record_no, received_at, payload_hash, payload) FROM STDIN`,
      ),
    )
    let bytes = 0
    async function* chunks(): AsyncGenerator<string> {
      let chunk = ''
      for (let i = 0; i < batch.records.length; i++) {
        const json = JSON.stringify(batch.records[i])
        if (json === undefined) throw errors.PIPELINE_INVALID_BATCH(`record ${i} of batch ${batch.id} is not JSON`)
        const hash = createHash('md5').update(json).digest('hex')
        chunk += copyTextRow([batch.id, source, batch.position ?? null, i, receivedAt, hash, json])
        if (chunk.length >= CHUNK_BYTES) {
          bytes += chunk.length
          yield chunk
          chunk = ''
        }
      }
      if (chunk.length > 0) {
        bytes += chunk.length
        yield chunk
      }
    }
    await pipeline(chunks, stream)
    return bytes
  }

  async #ensureTable(entity: string): Promise<void> {
    if (this.#ensured.has(entity)) return
    await this.#pool.query('SELECT cairn_meta.ensure_bronze_table($1)', [entity])
    this.#ensured.add(entity)
  }
}
