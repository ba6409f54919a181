import type { QueryEvent } from '@cairn/core'

/** A QueryEvent for tests: a one-row SELECT, with the given fields. */
export function queryEvent(fields: Partial<QueryEvent> = {}): QueryEvent {
  return {
    at: Date.now(),
    database: 'cairn',
    user: 'ann',
    applicationName: 'test',
    sessionId: 's',
    fingerprint: 'f',
    normalizedText: 'select $1',
    kind: 'select',
    relationsRead: [],
    relationsWritten: [],
    deterministic: true,
    nondeterministicReasons: [],
    columns: [],
    durationMs: 1,
    poolWaitMs: 0,
    rows: 1,
    bytesOut: 10,
    ...fields,
  }
}
