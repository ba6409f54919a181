/**
 * A small SQL lexer for the telemetry path: replaces literals (numbers,
 * strings, E'', $$-quoted, B''/X'') with `$n` placeholders, collapses
 * whitespace and comments, lower-cases unquoted words, and folds IN lists of
 * constants (`IN (1, 2, 3)`) to one placeholder, so statements that differ
 * only in their constants share one normalized text and fingerprint, the way
 * pg_stat_statements groups them. Costs microseconds, against ~200 µs for a
 * full parse, which then runs once per normalized text rather than per statement.
 */
export interface NormalizedSql {
  /** Normalized text (a key: `interval '1 day'` becomes `interval $1`, which is not valid SQL). */
  text: string
  /** How many placeholders the input already had (`$1`…): new ones are numbered after them. */
  params: number
}

const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y
const NUMBER = /(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/y
const PARAM = /\$(\d+)/y
const DOLLAR_TAG = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y

export function normalizeSql(sql: string): NormalizedSql {
  let maxParam = 0
  const tokens: string[] = []
  const literalAt: boolean[] = []
  let i = 0
  const n = sql.length
  const push = (t: string, literal = false) => {
    tokens.push(t)
    literalAt.push(literal)
  }
  while (i < n) {
    const c = sql[i] as string
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f') {
      i++
      continue
    }
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      i = end < 0 ? n : end + 1
      continue
    }
    if (c === '/' && sql[i + 1] === '*') {
      let depth = 1
      i += 2
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++
          i += 2
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--
          i += 2
        } else i++
      }
      continue
    }
    if (
      c === "'" ||
      ((c === 'E' || c === 'e' || c === 'B' || c === 'b' || c === 'X' || c === 'x') && sql[i + 1] === "'")
    ) {
      const backslash = c === 'E' || c === 'e'
      i += c === "'" ? 1 : 2
      while (i < n) {
        if (backslash && sql[i] === '\\') i += 2
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2
        else if (sql[i] === "'") break
        else i++
      }
      i++
      push('?', true)
      continue
    }
    if (c === '"') {
      let j = i + 1
      while (j < n && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1
      push(sql.slice(i, j + 1))
      i = j + 1
      continue
    }
    if (c === '$') {
      PARAM.lastIndex = i
      const p = PARAM.exec(sql)
      if (p) {
        maxParam = Math.max(maxParam, Number(p[1]))
        push(p[0])
        i = PARAM.lastIndex
        continue
      }
      DOLLAR_TAG.lastIndex = i
      const tag = DOLLAR_TAG.exec(sql)
      if (tag) {
        const end = sql.indexOf(tag[0], DOLLAR_TAG.lastIndex)
        i = end < 0 ? n : end + tag[0].length
        push('?', true)
        continue
      }
    }
    WORD.lastIndex = i
    const w = WORD.exec(sql)
    if (w) {
      push(w[0].toLowerCase())
      i = WORD.lastIndex
      continue
    }
    NUMBER.lastIndex = i
    const num = NUMBER.exec(sql)
    if (num) {
      push('?', true)
      i = NUMBER.lastIndex
      continue
    }
    // Operators: keep multi-character ones together (::, <=, ->>, ||, …).
    let j = i + 1
    while (j < n && '+-*/<>=~!@#%^&|`?:'.includes(sql[j] as string) && '+-*/<>=~!@#%^&|`?:'.includes(c)) j++
    push(sql.slice(i, j))
    i = j
  }

  // Fold `IN (?, ?, ?)` to `IN (?)`, and a leading minus into its number.
  const out: string[] = []
  const outLiteral: boolean[] = []
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as string
    if (t === '-' && literalAt[k + 1] && isOperandStart(out[out.length - 1])) continue
    if (t === ',' && literalAt[k + 1] && outLiteral[outLiteral.length - 1] && out[out.length - 2] !== undefined) {
      const before = lastListStart(out, outLiteral)
      if (before) {
        k++
        continue
      }
    }
    out.push(t)
    outLiteral.push(literalAt[k] as boolean)
  }

  let next = maxParam
  let text = ''
  for (let k = 0; k < out.length; k++) {
    const t = outLiteral[k] ? `$${++next}` : (out[k] as string)
    if (k > 0 && needsSpace(out[k - 1] as string, t)) text += ' '
    text += t
  }
  return { text, params: maxParam }
}

/** A `-` right after these starts a negative literal, not a subtraction. */
function isOperandStart(prev: string | undefined): boolean {
  return (
    prev === undefined ||
    prev === '(' ||
    prev === ',' ||
    prev === '=' ||
    prev === '<' ||
    prev === '>' ||
    (/^[a-z]+$/.test(prev) && KEYWORDS_BEFORE_VALUE.has(prev))
  )
}
const KEYWORDS_BEFORE_VALUE = new Set([
  'select',
  'where',
  'and',
  'or',
  'then',
  'else',
  'when',
  'in',
  'values',
  'limit',
  'offset',
  'between',
  'return',
  'by',
])

/** True when the literal before a comma is part of a list of literals that started right after `IN (`. */
function lastListStart(out: readonly string[], literal: readonly boolean[]): boolean {
  let k = out.length - 1
  while (k >= 0 && literal[k]) {
    if (out[k - 1] === '(') return out[k - 2] === 'in'
    if (out[k - 1] === ',' && literal[k - 2]) k -= 2
    else return false
  }
  return false
}

function needsSpace(prev: string, t: string): boolean {
  if (t === ',' || t === ')' || t === ';' || t === '.' || prev === '(' || prev === '.' || t === '::' || prev === '::')
    return false
  if (t === '(' && /^[a-z_"]/.test(prev) && !SPACE_BEFORE_PAREN.has(prev)) return false
  if (t === '[' || t === ']' || prev === '[') return false
  return true
}
const SPACE_BEFORE_PAREN = new Set([
  'in',
  'and',
  'or',
  'not',
  'as',
  'from',
  'join',
  'where',
  'on',
  'select',
  'values',
  'exists',
  'using',
  'over',
  'filter',
  'within',
  'union',
  'all',
  'any',
  'some',
  'by',
  'when',
  'then',
  'else',
  'with',
])
