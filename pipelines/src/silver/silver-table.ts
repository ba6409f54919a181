import type { Rule } from './rules.js'

/** How a raw text field is turned into a typed silver column. */
export type ColumnType = 'bigint' | 'integer' | 'numeric' | 'timestamptz' | 'text' | 'lower' | 'upper'

export interface ColumnSpec {
  readonly name: string
  readonly type: ColumnType
  /** Raw field names to read, first present wins (schema drift: a renamed field). Default: `[name]`. */
  readonly from?: readonly string[]
}

export type SilverMode =
  /** One row per business key; the latest version by event time wins, an older one never overwrites it. */
  | { readonly kind: 'upsert' }
  /**
   * SCD Type 2: every accepted version goes to `changelog`; the history in the target is recomputed
   * from it for the keys a run touched. A change to a `tracked` column opens a new version; other
   * columns are updated in place on the version they belong to.
   */
  | { readonly kind: 'scd2'; readonly changelog: string; readonly tracked: readonly string[] }

/** Creates missing parents as inferred members instead of losing or holding the child row. */
export interface InferredParent {
  readonly column: string
  /** A silver table declared with `scd2` mode. */
  readonly parent: string
}

/** One silver table: where it reads from, its typed columns, its rules, and how it is merged. */
export interface SilverTable {
  /** The silver table name (`orders` → `silver.orders`). */
  readonly name: string
  readonly bronze: string
  readonly key: readonly string[]
  /** The event-time column: the latest version of a key by this column wins. */
  readonly version: string
  readonly columns: readonly ColumnSpec[]
  readonly rules: readonly Rule[]
  readonly mode: SilverMode
  readonly inferred?: readonly InferredParent[]
  /** Silver tables whose step must run first in a run. */
  readonly dependsOn: readonly string[]
}
