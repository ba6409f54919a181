/** A node of libpg-query's JSON parse tree. */
export type ParseNode = Record<string, unknown>

export const isParseNode = (v: unknown): v is ParseNode => typeof v === 'object' && v !== null && !Array.isArray(v)

/** libpg-query wraps each node as `{ TypeName: {...} }`: the type name and the node, or undefined for anything else. */
export function unwrapParseNode(v: unknown): [string, ParseNode] | undefined {
  if (!isParseNode(v)) return undefined
  const keys = Object.keys(v)
  if (keys.length !== 1) return undefined
  const inner = v[keys[0] as string]
  return isParseNode(inner) ? [keys[0] as string, inner] : undefined
}

/** `GROUP BY 1` / `ORDER BY 2` mean the first/second output column: that column's expression, else `expr` itself. */
export function positionalTarget(expr: unknown, targets: readonly unknown[]): unknown {
  const c = unwrapParseNode(expr)
  if (c?.[0] !== 'A_Const' || !isParseNode(c[1].ival)) return expr
  const n = ((c[1].ival as ParseNode).ival as number | undefined) ?? 0
  return unwrapParseNode(targets[n - 1])?.[1].val ?? expr
}
