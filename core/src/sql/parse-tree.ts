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
