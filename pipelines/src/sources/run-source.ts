import { errors, isCairnError, type Logger } from '@cairn/core'
import type { SourceBatch, SourcePlugin } from '@cairn/plugins'
import type { BronzeLoader, BronzeLoadResult } from '../bronze/bronze-loader.js'

export interface RunSourceOptions {
  /** Names this configured instance of the plugin; checkpoints and batch ids are per instance. Default `default`. */
  readonly instance?: string
  readonly log: Logger
  /** Stops the run after the batch being loaded; the source sees it too. */
  readonly signal?: AbortSignal
  /** Called after each batch is committed (or found already loaded). Throwing from it stops the run. */
  readonly onBatch?: (batch: SourceBatch, result: BronzeLoadResult) => void | Promise<void>
}

export interface RunSourceResult {
  /** Batches the source produced. */
  readonly batches: number
  /** Batches added to bronze. */
  readonly loaded: number
  /** Batches that were already in bronze (a retry, a redelivery). */
  readonly skipped: number
  /** Rows added to bronze. */
  readonly rows: number
}

const INSTANCE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

/** The name a source instance has in bronze (`bronze_batches.source`) and in its checkpoints. */
export function sourceName(plugin: SourcePlugin, instance = 'default'): string {
  return `${plugin.meta.name}:${instance}`
}

/**
 * Runs one source into bronze: validates its config, reads its checkpoints, loads every batch it
 * yields (each at most once, see BronzeLoader) and closes it. A failure of the source itself is
 * CAIRN_ERR_PIPELINE_SOURCE_FAILED (unless it is already coded); batches committed before it stay.
 */
export async function runSource(
  loader: BronzeLoader,
  plugin: SourcePlugin,
  config: unknown,
  options: RunSourceOptions,
): Promise<RunSourceResult> {
  const instance = options.instance ?? 'default'
  if (!INSTANCE.test(instance)) {
    throw errors.CONFIG_INVALID(
      `source "${plugin.meta.name}": instance name ${JSON.stringify(instance)} must match ${INSTANCE}`,
    )
  }
  const parsed = plugin.configSchema.safeParse(config)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`)
    throw errors.CONFIG_INVALID(`source "${plugin.meta.name}" (instance ${instance}): ${issues.join('; ')}`, {
      cause: parsed.error,
    })
  }
  const name = sourceName(plugin, instance)
  const log = options.log.child({ source: name })
  const signal = options.signal ?? new AbortController().signal
  const checkpoints = await loader.checkpoints(name)
  const source = plugin.create(parsed.data, { log, instance })
  const counts = { batches: 0, loaded: 0, skipped: 0, rows: 0 }
  let iterator: AsyncIterator<SourceBatch> | undefined
  try {
    const reader = source.read({ log, signal, checkpoints })[Symbol.asyncIterator]()
    iterator = reader
    // The source reads (parses) the next batch while PostgreSQL loads this one; loads stay in order.
    const read = () => {
      const next = reader.next()
      next.catch(() => {}) // awaited below; a read left pending when the run stops must not go unhandled
      return next
    }
    let ahead = read()
    while (!signal.aborted) {
      let next: IteratorResult<SourceBatch>
      try {
        next = await ahead
      } catch (err) {
        iterator = undefined
        if (isCairnError(err)) throw err
        throw errors.PIPELINE_SOURCE_FAILED(`${name}: ${(err as Error).message}`, { cause: err })
      }
      if (next.done) {
        iterator = undefined
        break
      }
      const batch = next.value
      ahead = read()
      const result = await loader.load(name, batch)
      counts.batches++
      if (result.loaded) {
        counts.loaded++
        counts.rows += result.rows
      } else {
        counts.skipped++
      }
      log.debug({ batch: batch.id, entity: batch.entity, loaded: result.loaded, rows: result.rows }, 'batch')
      await options.onBatch?.(batch, result)
    }
  } finally {
    await iterator?.return?.().catch((err: unknown) => log.warn({ err }, 'closing the source reader failed'))
    await source.close?.().catch((err: unknown) => log.warn({ err }, 'closing the source failed'))
  }
  log.info(
    { ...counts, aborted: signal.aborted },
    `source ${name}: ${counts.rows} rows in ${counts.loaded} new batches`,
  )
  return counts
}
