/**
 * What the proxy child reports: its cache counters since it started, and the
 * statements it saw since the previous report (statsBetween turns two reports
 * into one pass's).
 */
export interface ProxyStats {
  /** The proxy's `cairn_cache_lookups_total` by outcome (hit, miss, bypass, uncacheable), since it started. */
  lookups: Record<string, number>
  /** `cairn_cache_errors_total` and `cairn_cache_stored_bytes_total`, since it started. */
  storeErrors: number
  storedBytes: number
  /** Statement records since the previous report: the proxy's own duration of each (first byte in to last out), by cache outcome (`none` with the cache off). */
  durationsMs: Record<string, number[]>
  /** Why statements were not cacheable, with how many, since the previous report. */
  uncacheableReasons: Record<string, number>
}

/** The statements of the later report, with what the counters grew by since the earlier one. */
export function statsBetween(before: ProxyStats, after: ProxyStats): ProxyStats {
  const lookups: Record<string, number> = {}
  for (const [outcome, value] of Object.entries(after.lookups))
    lookups[outcome] = value - (before.lookups[outcome] ?? 0)
  return {
    ...after,
    lookups,
    storeErrors: after.storeErrors - before.storeErrors,
    storedBytes: after.storedBytes - before.storedBytes,
  }
}
