/** The collector families `useCollectors` can run. */
export type CollectorName = 'statements' | 'tables' | 'host'

export const collectorNames: readonly CollectorName[] = ['statements', 'tables', 'host']

export interface CollectorAvailability {
  readonly collecting: boolean
  /** A sentence: what is collected, or why nothing is. */
  readonly reason: string
}

/** One family of time series, sampled on an interval into `cairn_meta`. */
export interface Collector {
  readonly name: CollectorName
  /** What it can collect, as last checked. */
  readonly availability: CollectorAvailability
  /**
   * Takes one reading and stores what changed since the previous one; returns
   * the rows written. The first call checks the source and takes the reading
   * the next deltas start from. A failed read or write throws, and the next
   * call goes on from the last reading that was stored.
   */
  sample(): Promise<number>
}
