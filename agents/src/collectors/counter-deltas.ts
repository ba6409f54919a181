/**
 * The increase of cumulative counters between two readings. A counter lower
 * than before means its statistics were reset (or the entry was evicted and
 * came back) in between: everything counted since then is the new value, so
 * the new values are the increase. A reading with no previous one (a new
 * entry) counts whole. Never negative.
 */
export function counterDeltas<K extends string>(
  previous: Readonly<Record<K, number>> | undefined,
  current: Readonly<Record<K, number>>,
  keys: readonly K[],
): Record<K, number> {
  const reset = previous === undefined || keys.some((k) => current[k] < previous[k])
  const deltas = {} as Record<K, number>
  for (const k of keys) deltas[k] = reset ? current[k] : current[k] - (previous as Record<K, number>)[k]
  return deltas
}
