import { ident, qualified } from './rules.js'
import type { ColumnSpec, ColumnType, SilverTable } from './silver-table.js'

const CASTS: Record<ColumnType, (raw: string) => string> = {
  bigint: (raw) => `cairn_meta.try_bigint(${raw})`,
  integer: (raw) => `cairn_meta.try_integer(${raw})`,
  // Amounts: numeric(12, 2), so `12.5` and `12.50` are the same value (and hash alike), and a value
  // too large for the column is a type failure, not an error that stops the step.
  numeric: (raw) => `cairn_meta.try_amount(${raw})`,
  timestamptz: (raw) => `cairn_meta.try_timestamptz(${raw})`,
  text: (raw) => raw,
  lower: (raw) => `lower(${raw})`,
  upper: (raw) => `upper(${raw})`,
}

/** Whether a column's raw text can fail to cast (and so gets a generated type rule). */
export const isTyped = (c: ColumnSpec) =>
  c.type === 'bigint' || c.type === 'integer' || c.type === 'numeric' || c.type === 'timestamptz'

/** The raw text of a field as received: the first present alias, trimmed, empty as NULL. */
function rawExpr(c: ColumnSpec): string {
  const names = c.from ?? [c.name]
  const fields = names.map((n) => `b.payload->>'${n.replaceAll("'", "''")}'`)
  return `nullif(btrim(${fields.length === 1 ? fields[0] : `coalesce(${fields.join(', ')})`}), '')`
}

/**
 * `pg_temp.stage`: the bronze rows after the watermark, each field as raw text
 * (`_raw_<column>`) and typed (`<column>`), plus the fate columns the rules set.
 * The payload itself stays in bronze (the quarantine joins it back by `bronze_id`).
 */
export function stageSql(table: SilverTable): string {
  const raw = table.columns.map((c) => `${rawExpr(c)} AS ${ident(`_raw_${c.name}`)}`)
  const typed = table.columns.map((c) => `${CASTS[c.type](`r.${ident(`_raw_${c.name}`)}`)} AS ${ident(c.name)}`)
  return `CREATE TEMP TABLE stage ON COMMIT DROP AS
SELECT r.*, ${typed.join(', ')}, NULL::text AS _fate, NULL::text AS _rule, NULL::text AS _reason, false AS _warned
FROM (
  SELECT b.bronze_id, b.payload ? '_unparseable' AS _unparseable, b.payload->>'_error' AS _parse_error, ${raw.join(', ')}
  FROM ${qualified(`bronze.${table.bronze}`)} b
  WHERE b.bronze_id > $1
) r`
}

/** md5 over the typed values (not the raw text): near duplicates that only differ in formatting hash alike. */
export function rowHashSql(table: SilverTable, alias: string): string {
  return `md5(row(${table.columns.map((c) => `${alias}.${ident(c.name)}`).join(', ')})::text)`
}

export const columnList = (names: readonly string[], alias?: string) =>
  names.map((n) => (alias ? `${alias}.${ident(n)}` : ident(n))).join(', ')
