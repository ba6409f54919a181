/**
 * The byte cache the result cache stands on: Redis in production, an
 * in-process LRU when no Redis is configured. Values are opaque bytes.
 */
export interface KeyValueCache {
  /** `redis` or `memory`: start-up logs it, status reports it. */
  readonly kind: 'redis' | 'memory'
  get(key: string): Promise<Buffer | undefined>
  /** Several keys at once, in order; a missing key is `undefined`. */
  getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]>
  /** `ttlMs` of 0 or undefined means no expiry (eviction still applies). */
  set(key: string, value: Buffer, ttlMs?: number): Promise<void>
  /** Sets the key only when it does not exist; true when it was set. */
  setIfAbsent(key: string, value: Buffer): Promise<boolean>
  delete(...keys: string[]): Promise<number>
  /** Atomically adds 1 to an integer counter (relation versions), returning the new value. */
  increment(key: string): Promise<number>
  close(): Promise<void>
}
