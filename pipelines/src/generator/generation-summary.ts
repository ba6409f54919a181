import type { DirtKind, EntityName } from './generator-options.js'
import type { RawRecord } from './raw-record.js'

/** Records of one entity from one part, in emission order. */
export interface GeneratedChunk {
  readonly entity: EntityName
  /** At most `chunkSize` records (fewer at the end of a part, or before a late record). */
  readonly records: RawRecord[]
  /** The time slice: day index divided by `partDays` (0-based). */
  readonly part: number
}

/** What a generation emitted. */
export interface GenerationSummary {
  /** Records emitted per entity, dirty ones included. */
  readonly records: Record<EntityName, number>
  /** Dirty records emitted per entity and kind (kinds that did not occur are absent). */
  readonly dirt: Record<EntityName, Partial<Record<DirtKind, number>>>
  /** Parts of the timeline: ceil(days / partDays). */
  readonly parts: number
}
