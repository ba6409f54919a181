/**
 * What sources put in bronze when they cannot parse a piece of input: the raw text and the reason,
 * as an ordinary record, so nothing is lost and the run goes on. Silver sees the `_unparseable` field
 * and quarantines the record with its `_error`.
 */
export interface UnparseableRecord {
  readonly _unparseable: string
  readonly _error: string
}

/** Bronze table names (`bronze.<entity>`), the same rule the bronze loader applies. */
export const ENTITY_NAME = /^[a-z][a-z0-9_]{0,62}$/

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

export function unparseable(raw: string, error: string): UnparseableRecord {
  UNSTORABLE.lastIndex = 0
  if (!UNSTORABLE.test(raw)) return { _unparseable: raw, _error: error }
  return {
    _unparseable: raw.replace(UNSTORABLE, '\ufffd'),
    _error: `${error} (NUL characters and unpaired surrogates in the raw text were replaced by U+FFFD)`,
  }
}

/**
 * PostgreSQL's jsonb cannot hold a NUL character or an unpaired UTF-16 surrogate in a string or key;
 * one such record would make the whole batch fail, forever. Returns where the first one is
 * (`$.a.b[2]`), or undefined when the value can be stored.
 */
export function unstorableText(value: unknown, path = '$'): string | undefined {
  if (typeof value === 'string') {
    UNSTORABLE.lastIndex = 0
    return UNSTORABLE.test(value) ? path : undefined
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableText(value[i], `${path}[${i}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      UNSTORABLE.lastIndex = 0
      if (UNSTORABLE.test(key)) return `${path} (a key)`
      const found = unstorableText(item, `${path}.${key}`)
      if (found !== undefined) return found
    }
  }
  return undefined
}

export const UNSTORABLE_MESSAGE =
  'contains a NUL character or an unpaired surrogate, which PostgreSQL jsonb cannot store'

/** A JSON text as a bronze record: the parsed object, or an `_unparseable` record saying why not. */
export function recordFromJson(raw: string): Record<string, unknown> | UnparseableRecord {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    return unparseable(raw, `invalid JSON: ${(err as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return unparseable(
      raw,
      `not a JSON object (got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`,
    )
  }
  const where = unstorableText(value)
  if (where !== undefined) return unparseable(raw, `${where} ${UNSTORABLE_MESSAGE}`)
  return value as Record<string, unknown>
}

/** JSON with object keys sorted, so the same value hashes the same however it was serialised. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
