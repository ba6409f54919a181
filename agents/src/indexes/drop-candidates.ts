import { formatBytes, formatMs } from './format-quantity.js'
import type { IndexUsage } from './index-usage.js'
import type { ExistingIndex, TableFacts } from './relation-catalog.js'

export type DropGround = 'unused' | 'duplicate' | 'subsumed'

/** An existing index worth dropping. */
export interface DropCandidate {
  readonly schema: string
  readonly table: string
  readonly index: ExistingIndex
  readonly ground: DropGround
  /** The index that makes it redundant (duplicate, subsumed). */
  readonly by?: string
  readonly reason: string
  /** Rows written to the table per hour: each pays for this index too. */
  readonly writesPerHour: number
}

/** An index that would qualify for a drop but is kept, and why. */
export interface KeptIndex {
  readonly schema: string
  readonly table: string
  readonly index: string
  readonly ground: DropGround
  readonly reason: string
}

export interface DropCandidatesOptions {
  readonly now: number
  /** An index whose scan count stayed put this long is unused. */
  readonly usageWindowMs: number
  /** Drop indexes Cairn did not create. Default false: only Cairn's own. */
  readonly allowDropsOfUnowned?: boolean
  /** Cairn's indexes start with this. Default `cairn_`. */
  readonly ownedPrefix?: string
  /** Further indexes Cairn owns, `schema.index` (e.g. what its actuator created under another name). */
  readonly owned?: readonly string[]
  readonly writesPerHour?: Readonly<Record<string, number>>
}

/**
 * Existing indexes to drop: unused over the usage window (the scan count did
 * not move), duplicates (the same definition under another name), and
 * subsumed ones (a B-tree whose keys lead another of the same type and
 * predicate). Never a primary key, a unique or exclusion constraint's index,
 * a unique index, or the replica identity; and only Cairn's own indexes unless
 * `allowDropsOfUnowned`. What qualifies but is kept is listed with the reason.
 */
export function dropCandidates(
  tables: readonly TableFacts[],
  usage: readonly IndexUsage[],
  {
    now,
    usageWindowMs,
    allowDropsOfUnowned = false,
    ownedPrefix = 'cairn_',
    owned = [],
    writesPerHour = {},
  }: DropCandidatesOptions,
): { drops: DropCandidate[]; kept: KeptIndex[] } {
  const usageOf = new Map(usage.map((u) => [u.oid, u]))
  const ownedNames = new Set(owned)
  const drops: DropCandidate[] = []
  const kept: KeptIndex[] = []

  for (const table of tables) {
    const dropped = new Set<number>()
    const writes = writesPerHour[table.relation] ?? 0
    const name = (i: ExistingIndex) => `${table.schema}.${i.name}`
    const judge = (index: ExistingIndex, ground: DropGround, reason: string, by?: string): boolean => {
      const protectedBy = protection(index)
      const isOwned = index.name.startsWith(ownedPrefix) || ownedNames.has(name(index))
      if (protectedBy || (!isOwned && !allowDropsOfUnowned)) {
        kept.push({
          schema: table.schema,
          table: table.name,
          index: index.name,
          ground,
          reason: `${reason}, but it is kept: ${
            protectedBy ??
            `Cairn did not create it (only indexes named ${ownedPrefix}… are dropped unless drops of other indexes are allowed)`
          }`,
        })
        return false
      }
      dropped.add(index.oid)
      drops.push({
        schema: table.schema,
        table: table.name,
        index,
        ground,
        ...(by ? { by } : {}),
        reason: `${reason}; dropping it frees ${formatBytes(index.bytes)}${
          writes > 0 ? ` and the upkeep it adds to ${Math.round(writes).toLocaleString('en-US')} row writes/h` : ''
        }`,
        writesPerHour: writes,
      })
      return true
    }
    const live = table.indexes.filter((i) => i.valid)

    // Unused first: a wide index that goes makes no narrow one redundant.
    for (const index of live) {
      const u = usageOf.get(index.oid)
      if (!u || u.scans !== index.scans || now - u.unchangedSince < usageWindowMs) continue
      judge(
        index,
        'unused',
        `${name(index)} on ${table.relation} was not scanned in ${formatMs(now - u.unchangedSince)} (idx_scan unchanged at ${index.scans.toLocaleString('en-US')} since ${new Date(u.unchangedSince).toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
      )
    }

    // Duplicates: of two identical definitions the one that may go goes (the newer, when both may).
    const byDefinition = new Map<string, ExistingIndex[]>()
    for (const index of live) {
      const def = definitionWithoutName(index.definition)
      byDefinition.set(def, [...(byDefinition.get(def) ?? []), index])
    }
    for (const group of byDefinition.values()) {
      if (group.length < 2) continue
      const remaining = group.filter((i) => !dropped.has(i.oid))
      const ordered = [...remaining].sort(
        (a, b) =>
          Number(droppable(a, ownedPrefix, ownedNames, name(a))) -
            Number(droppable(b, ownedPrefix, ownedNames, name(b))) || a.oid - b.oid,
      )
      const keep = ordered[0]
      if (!keep) continue
      for (const index of ordered.slice(1)) {
        judge(
          index,
          'duplicate',
          `${name(index)} duplicates ${name(keep)} on ${table.relation} (the same definition)`,
          name(keep),
        )
      }
    }

    // Subsumed: a plain B-tree whose keys lead a wider one's, with the same predicate and operator classes.
    for (const narrow of live) {
      if (dropped.has(narrow.oid) || narrow.method !== 'btree' || narrow.unique || narrow.keys.includes(null)) continue
      const wide = live.find(
        (w) =>
          w.oid !== narrow.oid &&
          !dropped.has(w.oid) &&
          w.method === 'btree' &&
          w.predicate === narrow.predicate &&
          narrow.keys.length <= w.keys.length &&
          narrow.keys.every((k, i) => w.keys[i] === k && w.keySignature[i] === narrow.keySignature[i]) &&
          narrow.include.every((c) => w.keys.includes(c) || w.include.includes(c)) &&
          definitionWithoutName(w.definition) !== definitionWithoutName(narrow.definition) &&
          (narrow.keys.length < w.keys.length || w.unique || w.include.length > narrow.include.length),
      )
      if (!wide) continue
      judge(
        narrow,
        'subsumed',
        `${name(narrow)} (${narrow.keys.join(', ')}) is a prefix of ${name(wide)} (${wide.keys.join(', ')}) on ${table.relation}, which answers the same lookups`,
        name(wide),
      )
    }
  }
  return { drops, kept }
}

/** Why an index must stay whatever its use: it enforces something or identifies rows. */
function protection(index: ExistingIndex): string | undefined {
  if (index.primary || index.constraint === 'p') return 'it backs the primary key'
  if (index.constraint === 'u') return 'it backs a unique constraint'
  if (index.constraint === 'x') return 'it backs an exclusion constraint'
  if (index.unique) return 'it enforces uniqueness'
  if (index.replicaIdentity) return "it is the table's replica identity"
  return undefined
}

function droppable(index: ExistingIndex, prefix: string, owned: ReadonlySet<string>, qualified: string): boolean {
  return !protection(index) && (index.name.startsWith(prefix) || owned.has(qualified))
}

/** pg_get_indexdef without the index's own name, so two indexes built alike compare equal. */
function definitionWithoutName(definition: string): string {
  return definition.replace(/^CREATE (UNIQUE )?INDEX (?:"(?:[^"]|"")*"|\S+) ON /, 'CREATE $1INDEX ON ')
}
