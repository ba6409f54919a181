import { createHash } from 'node:crypto'
import type { QueryEvent } from '@cairn/core'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A query event as the proxy publishes it, for a statement given by its normalized text. */
export function anomalyEvent(
  normalizedText: string,
  fields: Partial<Mutable<QueryEvent>> & Pick<QueryEvent, 'at' | 'durationMs'>,
): QueryEvent {
  return {
    database: 'cairn',
    user: 'app',
    applicationName: 'shop',
    sessionId: 's1',
    fingerprint: createHash('sha1').update(normalizedText).digest('hex').slice(0, 16),
    normalizedText,
    text: normalizedText,
    kind: 'select',
    relationsRead: [],
    relationsWritten: [],
    deterministic: true,
    nondeterministicReasons: [],
    columns: [],
    poolWaitMs: 0,
    rows: 1,
    bytesOut: 0,
    ...fields,
  } as QueryEvent
}

/**
 * `count` events of one statement spread evenly over the interval starting at
 * `start`, their durations cycling through `durations`.
 */
export function anomalyInterval(
  normalizedText: string,
  start: number,
  intervalMs: number,
  count: number,
  durations: readonly number[],
  fields: Partial<Mutable<QueryEvent>> = {},
): QueryEvent[] {
  return Array.from({ length: count }, (_, i) =>
    anomalyEvent(normalizedText, {
      ...fields,
      at: start + Math.floor(((i + 0.5) * intervalMs) / count),
      durationMs: durations[i % durations.length] as number,
    }),
  )
}
