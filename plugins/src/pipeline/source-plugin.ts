import type { Logger } from '@cairn/core'
import type { ZodType } from 'zod'

/**
 * One batch of raw records from a source, bound for one bronze table.
 *
 * `id` must be stable: reading the same data again (a retry after a crash, the
 * same file dropped twice) must produce the same id, because bronze loads a
 * batch id at most once.
 */
export interface SourceBatch {
  readonly id: string
  /** The source entity, which names the bronze table (`orders` → `bronze.orders`). */
  readonly entity: string
  /** JSON-serialisable payloads, exactly as received. */
  readonly records: readonly unknown[]
  /** Where the batch came from, for lineage: `orders-0001.csv:2-5001`, a stream id range, an offset. */
  readonly position?: string
  /**
   * Source state to store in the same transaction as the batch's rows
   * (`cairn_meta.source_checkpoints`), e.g. "file orders-0001.csv has checksum X
   * and is fully loaded". The next `read()` sees it in `SourceContext.checkpoints`.
   */
  readonly checkpoint?: { readonly key: string; readonly value: string }
  /** Called once the batch is committed in bronze (or was already there): acknowledge upstream. */
  readonly ack?: () => Promise<void>
}

export interface SourceContext {
  readonly log: Logger
  readonly signal: AbortSignal
  /** Checkpoints this source instance stored with earlier batches, by key. */
  readonly checkpoints: ReadonlyMap<string, string>
}

export interface Source {
  /** Yields batches until the source has nothing more for this run (or `signal` aborts). */
  read(ctx: SourceContext): AsyncIterable<SourceBatch>
  close?(): Promise<void>
}

export interface SourcePluginMeta {
  /** Lower-case, `[a-z][a-z0-9-]*`; unique among registered sources. */
  readonly name: string
  /** Semver of the plugin. */
  readonly version: string
  readonly description?: string
}

/** A source plugin: metadata, a config schema, and a factory. Built-in and third-party sources look the same. */
export interface SourcePlugin<C = unknown> {
  readonly kind: 'source'
  readonly meta: SourcePluginMeta
  readonly configSchema: ZodType<C>
  create(config: C, options: { readonly log: Logger; readonly instance: string }): Source
}
