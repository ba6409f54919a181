/** Readers for the few frontend and backend fields the proxy needs; offsets are into whole frames. */

/** The NUL-terminated string at `offset`, and the offset just past its terminator. */
export function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset)
  if (end < 0) throw new RangeError('unterminated string')
  return [buf.toString('utf8', offset, end), end + 1]
}

/** Parse: statement name, query text, and where the parameter-type section starts. */
export function readParse(frame: Buffer): { name: string; query: string; typesOffset: number } {
  const [name, afterName] = readCString(frame, 5)
  const [query, typesOffset] = readCString(frame, afterName)
  return { name, query, typesOffset }
}

/** Bind: portal name, statement name, and where the rest (formats, values) starts. */
export function readBind(frame: Buffer): { portal: string; statement: string; restOffset: number } {
  const [portal, afterPortal] = readCString(frame, 5)
  const [statement, restOffset] = readCString(frame, afterPortal)
  return { portal, statement, restOffset }
}

/** Describe or Close: 'S' (statement) or 'P' (portal), and the name. */
export function readTarget(frame: Buffer): { kind: number; name: string } {
  const kind = frame[5] as number
  const [name] = readCString(frame, 6)
  return { kind, name }
}

/** Execute: portal name and the row limit (0 = all). */
export function readExecute(frame: Buffer): { portal: string; maxRows: number } {
  const [portal, after] = readCString(frame, 5)
  return { portal, maxRows: frame.readInt32BE(after) }
}

/** Query: the SQL text. */
export function readQuery(frame: Buffer): string {
  return readCString(frame, 5)[0]
}

/** CommandComplete: the tag, e.g. `SELECT 5`, `INSERT 0 3`. */
export function readCommandTag(frame: Buffer): string {
  return readCString(frame, 5)[0]
}

/** Rows a command tag reports (its last number: `SELECT 5`, `INSERT 0 3`); undefined for tags without one (`SHOW`). */
export function rowsFromTag(tag: string): number | undefined {
  const space = tag.lastIndexOf(' ')
  const n = space < 0 ? Number.NaN : Number(tag.slice(space + 1))
  return Number.isFinite(n) ? n : undefined
}

/** ErrorResponse/NoticeResponse fields by their one-letter code. */
export function readErrorFields(frame: Buffer): Record<string, string> {
  const fields: Record<string, string> = {}
  let offset = 5
  while (offset < frame.length && frame[offset] !== 0) {
    const code = String.fromCharCode(frame[offset] as number)
    const [value, next] = readCString(frame, offset + 1)
    fields[code] = value
    offset = next
  }
  return fields
}
