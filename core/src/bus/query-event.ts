import type { DeepReadonly } from './deep-freeze.js'

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'ddl' | 'utility' | 'transaction' | 'unknown'

/** One statement as the proxy saw it. Published once per statement, after it completed. */
export type QueryEvent = DeepReadonly<{
  /** When the statement arrived, epoch milliseconds. */
  at: number
  database: string
  user: string
  applicationName: string
  sessionId: string
  fingerprint: string
  normalizedText: string
  kind: StatementKind
  relationsRead: string[]
  relationsWritten: string[]
  deterministic: boolean
  /** Wall time as seen by the proxy, from the first byte in to the last byte out. */
  durationMs: number
  poolWaitMs: number
  rows: number
  bytesOut: number
  /** SQLSTATE of the error, when the statement failed. */
  sqlstate?: string
  /** Filled by the result cache: whether this statement was answered from it. */
  cacheHit?: boolean
}>
