/** Longest statement text quoted in a sentence. */
const MAX = 100

/**
 * A statement short enough for a sentence: whitespace collapsed, a SELECT's
 * select list elided (`SELECT … FROM silver.orders WHERE customer_id = $1`),
 * then cut at MAX characters.
 */
export function abbreviateStatement(text: string): string {
  let s = text.replace(/\s+/g, ' ').trim()
  s = s.replace(/^(select(?:\s+distinct)?)\s+(?!…).*?\s+(from)\s/i, '$1 … $2 ')
  return s.length > MAX ? `${s.slice(0, MAX - 1)}…` : s
}
