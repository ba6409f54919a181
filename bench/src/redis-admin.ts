import { RedisCache } from '@cairn/core'

/** Deletes every key under `prefix` (SCAN, then UNLINK in batches); returns how many there were. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete every key: no prefix')
  const store = await new RedisCache({ url, keyPrefix: '' }).connect()
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [nextCursor, keys] = await store.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) deleted += await store.redis.unlink(...keys)
      cursor = nextCursor
    } while (cursor !== '0')
  } finally {
    await store.close()
  }
  return deleted
}

/** The server's version, from INFO. */
export async function redisVersion(url: string): Promise<string> {
  const store = await new RedisCache({ url, keyPrefix: '' }).connect()
  try {
    return /^redis_version:(\S+)/m.exec(await store.redis.info('server'))?.[1] ?? 'unknown'
  } finally {
    await store.close()
  }
}
