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

/**
 * Bind's parameter values in text form (null for SQL NULL), read from after the
 * statement name; undefined when any is sent in binary format.
 */
export function readBindParams(frame: Buffer, restOffset: number): (string | null)[] | undefined {
  let o = restOffset
  const formats = frame.readInt16BE(o)
  o += 2
  const codes: number[] = []
  for (let i = 0; i < formats; i++, o += 2) codes.push(frame.readInt16BE(o))
  const count = frame.readInt16BE(o)
  o += 2
  // One format code applies to every parameter; none means all text (the protocol's rule).
  const formatOf = (i: number) => (codes.length === 0 ? 0 : codes.length === 1 ? codes[0] : codes[i])
  const out: (string | null)[] = []
  for (let i = 0; i < count; i++) {
    const len = frame.readInt32BE(o)
    o += 4
    if (len === -1) {
      out.push(null)
      continue
    }
    if (formatOf(i) !== 0) return undefined
    out.push(frame.toString('utf8', o, o + len))
    o += len
  }
  return out
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
