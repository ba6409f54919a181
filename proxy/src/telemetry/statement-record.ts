/** What the session knows when a statement completes; the telemetry stage turns it into a QueryEvent. */
export interface StatementRecord {
  /** Epoch ms when the statement started. */
  at: number
  sessionId: string
  database: string
  user: string
  applicationName: string
  searchPath: string | undefined
  /** The SQL as sent (a simple Query may hold several statements; `statementIndex` says which). */
  text: string
  statementIndex: number
  /** The Bind frame of an extended-protocol statement, decoded into parameters off the client's path. */
  bind?: Buffer
  durationMs: number
  poolWaitMs: number
  rows: number
  bytesOut: number
  sqlstate: string | undefined
  /** What the result cache did with it, when the cache is on. */
  cache?: 'hit' | 'miss' | 'bypass' | 'uncacheable'
  cacheReason?: string
}

/** Takes records on the proxy's path: must return at once and never throw. */
export interface StatementSink {
  record(r: StatementRecord): void
}
