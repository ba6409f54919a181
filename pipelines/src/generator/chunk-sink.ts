import type { GeneratedChunk, GenerationSummary } from './generation-summary.js'
import { type DirtKind, type EntityName, entityNames } from './generator-options.js'
import { entityName, type RawRecord } from './raw-record.js'

/**
 * Collects emitted records into chunks of one entity and one part, and counts them. Full chunks wait
 * in a ready list until the generator yields them.
 */
export class ChunkSink {
  private buffers: RawRecord[][]
  private readonly filled: number[] = entityNames.map(() => 0)
  private ready: GeneratedChunk[] = []
  private readonly counts: number[] = entityNames.map(() => 0)
  private readonly dirt: Partial<Record<DirtKind, number>>[] = entityNames.map(() => ({}))
  /** Chunks started per entity: a record held while chunk k is filling is emitted in chunk k + 1 or later. */
  readonly chunkSeq: number[] = entityNames.map(() => 0)
  private currentPart = 0

  constructor(private readonly chunkSize: number) {
    this.buffers = entityNames.map(() => this.newBuffer())
  }

  /** A chunk array with room for a full chunk (filled by index: no growing). */
  private newBuffer(): RawRecord[] {
    return new Array<RawRecord>(this.chunkSize)
  }

  get part(): number {
    return this.currentPart
  }

  /** Appends a record (dirty with `kind`, or clean for null) to its entity's chunk. */
  add(entity: number, record: RawRecord, kind: DirtKind | null): void {
    const filled = this.filled[entity] as number
    ;(this.buffers[entity] as RawRecord[])[filled] = record
    this.filled[entity] = filled + 1
    this.counts[entity] = (this.counts[entity] as number) + 1
    if (kind !== null) {
      const counts = this.dirt[entity] as Partial<Record<DirtKind, number>>
      counts[kind] = (counts[kind] ?? 0) + 1
    }
    if (filled + 1 >= this.chunkSize) this.flush(entity)
  }

  /** Closes the entity's current chunk (when not empty). */
  flush(entity: number): void {
    const filled = this.filled[entity] as number
    if (filled === 0) return
    const records = this.buffers[entity] as RawRecord[]
    if (filled < records.length) records.length = filled
    this.ready.push({ entity: entityName(entity), records, part: this.currentPart })
    this.buffers[entity] = this.newBuffer()
    this.filled[entity] = 0
    this.chunkSeq[entity] = (this.chunkSeq[entity] as number) + 1
  }

  /** Closes every open chunk. */
  flushAll(): void {
    for (let e = 0; e < this.buffers.length; e++) this.flush(e)
  }

  /** Starts a part: the open chunks of the previous part are closed first. */
  setPart(part: number): void {
    if (part === this.currentPart) return
    this.flushAll()
    this.currentPart = part
  }

  /** The closed chunks not yet taken. */
  take(): GeneratedChunk[] {
    const ready = this.ready
    this.ready = []
    return ready
  }

  /** The counts so far. */
  summary(parts: number): GenerationSummary {
    const records = {} as Record<EntityName, number>
    const dirt = {} as Record<EntityName, Partial<Record<DirtKind, number>>>
    entityNames.forEach((name, e) => {
      records[name] = this.counts[e] as number
      dirt[name] = { ...this.dirt[e] }
    })
    return { records, dirt, parts }
  }
}
