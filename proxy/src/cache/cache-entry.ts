import { crc32 } from 'node:zlib'

/** 'CRE1': Cairn result entry, format 1. */
const MAGIC = 0x43524531

export interface CacheEntry {
  /** Version of each relation (in the order the key's relations were given) when the result was read. */
  readonly versions: readonly number[]
  /** Rows in the result, for telemetry on a hit. */
  readonly rows: number
  /** The backend's response bytes (RowDescription, DataRows, CommandComplete), replayed as they are. */
  readonly body: Buffer
}

/** magic | count (u16) | versions (f64 each) | rows (u32) | body length (u32) | crc32(body) (u32) | body */
export function encodeEntry(entry: CacheEntry): Buffer {
  const head = Buffer.allocUnsafe(4 + 2 + 8 * entry.versions.length + 12)
  let o = head.writeUInt32BE(MAGIC, 0)
  o = head.writeUInt16BE(entry.versions.length, o)
  for (const v of entry.versions) o = head.writeDoubleBE(v, o)
  o = head.writeUInt32BE(entry.rows, o)
  o = head.writeUInt32BE(entry.body.length, o)
  head.writeUInt32BE(crc32(entry.body), o)
  return Buffer.concat([head, entry.body])
}

/** The entry, or undefined when the bytes are not a whole, intact entry (a corrupt entry is a miss). */
export function decodeEntry(buf: Buffer): CacheEntry | undefined {
  if (buf.length < 18 || buf.readUInt32BE(0) !== MAGIC) return undefined
  const count = buf.readUInt16BE(4)
  let o = 6
  if (buf.length < o + 8 * count + 12) return undefined
  const versions: number[] = []
  for (let i = 0; i < count; i++, o += 8) versions.push(buf.readDoubleBE(o))
  const rows = buf.readUInt32BE(o)
  const length = buf.readUInt32BE(o + 4)
  const sum = buf.readUInt32BE(o + 8)
  const body = buf.subarray(o + 12)
  if (body.length !== length || crc32(body) !== sum) return undefined
  return { versions, rows, body }
}
