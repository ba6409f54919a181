import { errors } from '@cairn/core'
import type pg from 'pg'
import { bronzeLockKey } from '../bronze/bronze-loader.js'
import { type CompiledRule, compileRule, ident, qualified, type Rule, type RuleAction, sqlLiteral } from './rules.js'
import type { SilverTable } from './silver-table.js'
import { columnList, isTyped, rowHashSql, stageSql } from './stage-sql.js'

export interface RuleResult {
  readonly rule: string
  readonly kind: Rule['kind']
  readonly action: RuleAction
  readonly checked: number
  readonly failed: number
}

/** What one silver step did. `read = written + quarantined + dropped + duplicates` always holds. */
export interface SilverStepResult {
  readonly table: string
  readonly bronzeFrom: number
  readonly bronzeTo: number
  readonly read: number
  readonly written: number
  readonly quarantined: number
  readonly dropped: number
  /** Exact and near duplicates, and versions older than (or equal to) what silver already has. */
  readonly duplicates: number
  /** Rows kept that failed at least one `warn` rule. */
  readonly warned: number
  readonly inferred: number
  readonly rules: readonly RuleResult[]
  readonly ms: number
}

export interface SilverStepOptions {
  readonly runId: number
  /** Overrides rule actions, keyed `<table>.<rule>`. */
  readonly ruleActions?: Readonly<Record<string, RuleAction>>
  /** Runs inside the step's transaction just before COMMIT (tests inject crashes here). */
  readonly beforeCommit?: (table: string) => void | Promise<void>
}

export const silverLockKey = (table: string) => `cairn.silver.${table}`

/** The rules a step applies, in order: parseability, one type rule per typed column, then the declared ones. */
export function effectiveRules(table: SilverTable, overrides: Readonly<Record<string, RuleAction>> = {}): Rule[] {
  const generated: Rule[] = [
    { name: 'record_parseable', kind: 'parseable', action: 'quarantine' },
    ...table.columns
      .filter(isTyped)
      .map((c): Rule => ({ name: `${c.name}_type`, kind: 'type', column: c.name, type: c.type, action: 'quarantine' })),
  ]
  return [...generated, ...table.rules].map((r) => {
    const action = overrides[`${table.name}.${r.name}`]
    return action ? { ...r, action } : r
  })
}

/**
 * One silver step for one table, in one transaction: stage the bronze rows after
 * the table's watermark, apply the rules, deduplicate by business key (latest by
 * event time, ties broken by the hash of the typed values), drop versions older
 * than what silver has, create inferred parents, merge (upsert or SCD2), and
 * record quality results, accounting and the new watermark. Takes the table's
 * locks first, so overlapping runs queue instead of interleaving.
 */
export async function runSilverStep(
  client: pg.ClientBase,
  table: SilverTable,
  tables: ReadonlyMap<string, SilverTable>,
  options: SilverStepOptions,
): Promise<SilverStepResult> {
  const started = performance.now()
  const target = qualified(`silver.${table.name}`)
  const ruleResults: RuleResult[] = []
  await client.query('BEGIN')
  try {
    const locks = [
      bronzeLockKey(table.bronze),
      silverLockKey(table.name),
      ...(table.inferred ?? []).map((i) => silverLockKey(i.parent)),
    ].sort()
    for (const key of locks) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key])

    const seqRes = await client.query<{ seq: string }>(`SELECT nextval('cairn_meta.silver_change_seq') AS seq`)
    const changeSeq = Number(seqRes.rows[0]?.seq)
    const wm = await client.query<{ last_bronze_id: string }>(
      'SELECT last_bronze_id FROM cairn_meta.silver_watermarks WHERE table_name = $1',
      [table.name],
    )
    const bronzeFrom = Number(wm.rows[0]?.last_bronze_id ?? 0)
    const staged = await client.query(stageSql(table), [bronzeFrom])
    const read = staged.rowCount ?? 0
    // Statistics for the planner on the columns the rules and the deduplication join on.
    await client.query(`ANALYZE pg_temp.stage (${columnList(['bronze_id', '_fate', ...table.key])})`)
    const maxId = await client.query<{ max: string | null }>('SELECT max(bronze_id) AS max FROM pg_temp.stage')
    const bronzeTo = Number(maxId.rows[0]?.max ?? bronzeFrom)

    // Rules.
    const scd2 = table.mode.kind === 'scd2'
    let alive = read
    let quarantined = 0
    let dropped = 0
    let failure: { rule: string; failed: number } | undefined
    for (const rule of effectiveRules(table, options.ruleActions)) {
      const compiled = compileRule(rule, { target: `silver.${table.name}`, key: table.key, currentOnly: scd2 })
      const failed = await applyRule(client, compiled)
      ruleResults.push({ rule: rule.name, kind: rule.kind, action: rule.action, checked: alive, failed })
      if (rule.action === 'quarantine') quarantined += failed
      if (rule.action === 'drop') dropped += failed
      if (rule.action === 'quarantine' || rule.action === 'drop') alive -= failed
      if (rule.action === 'fail' && failed > 0) {
        failure = { rule: rule.name, failed }
        break
      }
    }
    if (failure) {
      throw errors.PIPELINE_QUALITY_FAILED(
        `silver.${table.name}: rule ${failure.rule} failed for ${failure.failed} of ${read} row(s)`,
      )
    }
    const warnedRes = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_temp.stage WHERE _fate IS NULL AND _warned',
    )
    const warned = Number(warnedRes.rows[0]?.n ?? 0)
    await client.query(
      `INSERT INTO cairn_meta.quarantine (run_id, table_name, rule, reason, bronze_table, bronze_id, payload)
       SELECT $1, $2, s._rule, s._reason, $3, s.bronze_id, b.payload
       FROM pg_temp.stage s JOIN ${qualified(`bronze.${table.bronze}`)} b USING (bronze_id) WHERE s._fate = 'quarantine'`,
      [options.runId, table.name, `bronze.${table.bronze}`],
    )

    // Deduplicate within the batch: the latest version per key (per key and version for SCD2, which
    // keeps every version), ties broken by content hash.
    const names = table.columns.map((c) => c.name)
    const version = ident(table.version)
    const partition = scd2 ? [...table.key, table.version] : table.key
    // Versions silver already has (or newer ones) are dropped too: an old update arriving late never
    // overwrites. Everything alive that does not become a candidate is a duplicate.
    const existing = scd2
      ? `${qualified(`silver.${(table.mode as { changelog: string }).changelog}`)} t WHERE ${table.key.map((k) => `t.${ident(k)} = c.${ident(k)}`).join(' AND ')} AND t.${version} = c.${version} AND t.row_hash >= c.row_hash`
      : `${target} t WHERE ${table.key.map((k) => `t.${ident(k)} = c.${ident(k)}`).join(' AND ')} AND (t.${version}, t.row_hash) >= (c.${version}, c.row_hash)`
    const cand = await client.query(`CREATE TEMP TABLE cand ON COMMIT DROP AS
      SELECT c.* FROM (
        SELECT h.*, row_number() OVER (PARTITION BY ${columnList(partition, 'h')} ORDER BY h.${version} DESC, h.row_hash DESC) AS _rn
        FROM (
          SELECT ${columnList(names, 's')}, s.bronze_id, ${rowHashSql(table, 's')} AS row_hash
          FROM pg_temp.stage s WHERE s._fate IS NULL
        ) h
      ) c
      WHERE c._rn = 1 AND NOT EXISTS (SELECT 1 FROM ${existing})`)
    const duplicates = alive - (cand.rowCount ?? 0)

    let inferred = 0
    for (const parent of table.inferred ?? [])
      inferred += await createInferred(client, parent.column, tables, parent.parent, changeSeq)

    const written = scd2 ? await mergeScd2(client, table, changeSeq) : await mergeUpsert(client, table, changeSeq)
    if (read !== written + quarantined + dropped + duplicates) {
      throw new Error(
        `silver.${table.name}: accounting does not balance: read ${read} ≠ written ${written} + quarantined ${quarantined} + dropped ${dropped} + duplicates ${duplicates}`,
      )
    }

    await client.query(
      `INSERT INTO cairn_meta.silver_watermarks (table_name, bronze_table, last_bronze_id) VALUES ($1, $2, $3)
       ON CONFLICT (table_name) DO UPDATE SET last_bronze_id = excluded.last_bronze_id, updated_at = now()`,
      [table.name, `bronze.${table.bronze}`, bronzeTo],
    )
    await recordRules(client, options.runId, table.name, ruleResults)
    const result: SilverStepResult = {
      table: table.name,
      bronzeFrom,
      bronzeTo,
      read,
      written,
      quarantined,
      dropped,
      duplicates,
      warned,
      inferred,
      rules: ruleResults,
      ms: Math.round(performance.now() - started),
    }
    await client.query(
      `INSERT INTO cairn_meta.silver_accounting (run_id, table_name, bronze_from, bronze_to, rows_read, rows_written,
         rows_quarantined, rows_dropped, rows_duplicate, rows_warned, inferred_members, ms)
       SELECT $1, $2, r.* FROM jsonb_to_record($3::jsonb) AS r(
         "bronzeFrom" bigint, "bronzeTo" bigint, read bigint, written bigint, quarantined bigint, dropped bigint,
         duplicates bigint, warned bigint, inferred bigint, ms integer)`,
      [options.runId, table.name, JSON.stringify(result)],
    )
    await options.beforeCommit?.(table.name)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    // The rule counts of a failed step are kept: they say why it failed.
    if (ruleResults.length > 0) await recordRules(client, options.runId, table.name, ruleResults).catch(() => {})
    throw err
  }
}

async function applyRule(client: pg.ClientBase, c: CompiledRule): Promise<number> {
  const { action } = c.rule
  if (action === 'quarantine' || action === 'drop') {
    const res = await client.query(
      `UPDATE pg_temp.stage s SET _fate = ${sqlLiteral(action)}, _rule = ${sqlLiteral(c.rule.name)}, _reason = ${c.reason}
       WHERE s._fate IS NULL AND ${c.failsWhen}`,
    )
    return res.rowCount ?? 0
  }
  if (action === 'warn') {
    const res = await client.query(`UPDATE pg_temp.stage s SET _warned = true WHERE s._fate IS NULL AND ${c.failsWhen}`)
    return res.rowCount ?? 0
  }
  const res = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_temp.stage s WHERE s._fate IS NULL AND ${c.failsWhen}`,
  )
  return Number(res.rows[0]?.n ?? 0)
}

async function recordRules(client: pg.ClientBase, runId: number, table: string, results: readonly RuleResult[]) {
  await client.query(
    `INSERT INTO cairn_meta.quality_results (run_id, table_name, rule, kind, action, checked, failed)
     SELECT $1, $2, r.rule, r.kind, r.action, r.checked, r.failed
     FROM jsonb_to_recordset($3::jsonb) AS r(rule text, kind text, action text, checked bigint, failed bigint)
     ON CONFLICT (run_id, table_name, rule) DO UPDATE SET checked = excluded.checked, failed = excluded.failed`,
    [runId, table, JSON.stringify(results)],
  )
}

/** Inserts an inferred current member for each referenced parent key that silver does not have yet. */
async function createInferred(
  client: pg.ClientBase,
  column: string,
  tables: ReadonlyMap<string, SilverTable>,
  parentName: string,
  changeSeq: number,
): Promise<number> {
  const parent = tables.get(parentName)
  if (parent?.mode.kind !== 'scd2' || parent.key.length !== 1)
    throw new Error(`inferred parent ${parentName} must be a silver table in scd2 mode with a single-column key`)
  const pk = ident(parent.key[0] as string)
  const res = await client.query(
    `INSERT INTO ${qualified(`silver.${parent.name}`)} (${pk}, valid_from, valid_to, is_current, is_inferred, change_seq)
     SELECT DISTINCT c.${ident(column)}, '-infinity'::timestamptz, NULL::timestamptz, true, true, ${changeSeq}::bigint
     FROM pg_temp.cand c
     WHERE c.${ident(column)} IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM ${qualified(`silver.${parent.name}`)} p WHERE p.${pk} = c.${ident(column)})`,
  )
  return res.rowCount ?? 0
}

async function mergeUpsert(client: pg.ClientBase, table: SilverTable, changeSeq: number): Promise<number> {
  const names = [...table.columns.map((c) => c.name), 'row_hash', 'bronze_id']
  const target = qualified(`silver.${table.name}`)
  const version = ident(table.version)
  const updates = names.filter((n) => !table.key.includes(n)).map((n) => `${ident(n)} = excluded.${ident(n)}`)
  const res = await client.query(
    `INSERT INTO ${target} AS t (${columnList(names)}, change_seq) SELECT ${columnList(names)}, ${changeSeq}::bigint FROM pg_temp.cand
     ON CONFLICT (${columnList(table.key)}) DO UPDATE SET ${updates.join(', ')}, change_seq = excluded.change_seq
     WHERE (excluded.${version}, excluded.row_hash) > (t.${version}, t.row_hash)`,
  )
  return res.rowCount ?? 0
}

/**
 * SCD2: accepted versions go to the changelog; then the history of every key
 * touched is recomputed from its whole changelog, so a late version lands in its
 * place. Consecutive versions with the same tracked values form one history row,
 * carrying the latest untracked values (an untracked change updates in place).
 */
async function mergeScd2(client: pg.ClientBase, table: SilverTable, changeSeq: number): Promise<number> {
  if (table.mode.kind !== 'scd2') throw new Error('not an scd2 table')
  const changelog = qualified(`silver.${table.mode.changelog}`)
  const target = qualified(`silver.${table.name}`)
  const version = ident(table.version)
  const names = [...table.columns.map((c) => c.name), 'row_hash', 'bronze_id']
  const keyNames = [...table.key, table.version]
  const updates = names.filter((n) => !keyNames.includes(n)).map((n) => `${ident(n)} = excluded.${ident(n)}`)
  const res = await client.query(
    `INSERT INTO ${changelog} AS t (${columnList(names)}) SELECT ${columnList(names)} FROM pg_temp.cand
     ON CONFLICT (${columnList(keyNames)}) DO UPDATE SET ${updates.join(', ')}
     WHERE excluded.row_hash > t.row_hash`,
  )
  const key = columnList(table.key)
  const attrs = table.columns.map((c) => c.name).filter((n) => !keyNames.includes(n))
  const tracked = `md5(row(${columnList(table.mode.tracked, 'c')})::text)`
  await client.query(
    `DELETE FROM ${target} t WHERE (${columnList(table.key, 't')}) IN (SELECT ${key} FROM pg_temp.cand)`,
  )
  await client.query(`
    WITH ch AS (
      SELECT c.*, ${tracked} AS _tracked
      FROM ${changelog} c WHERE (${columnList(table.key, 'c')}) IN (SELECT ${key} FROM pg_temp.cand)
    ), marked AS (
      SELECT ch.*, CASE WHEN lag(_tracked) OVER (PARTITION BY ${key} ORDER BY ${version}) IS DISTINCT FROM _tracked THEN 1 ELSE 0 END AS _starts
      FROM ch
    ), grouped AS (
      SELECT marked.*, sum(_starts) OVER (PARTITION BY ${key} ORDER BY ${version}) AS _grp FROM marked
    ), versions AS (
      SELECT ${key}, _grp, min(${version}) AS valid_from, max(${version}) AS version_updated_at FROM grouped GROUP BY ${key}, _grp
    ), latest AS (
      SELECT DISTINCT ON (${key}, _grp) * FROM grouped ORDER BY ${key}, _grp, ${version} DESC
    )
    INSERT INTO ${target} (${key}, ${columnList(attrs)}, valid_from, valid_to, is_current, is_inferred, version_updated_at, change_seq)
    SELECT ${columnList(table.key, 'l')}, ${columnList(attrs, 'l')}, v.valid_from,
           lead(v.valid_from) OVER w, lead(v.valid_from) OVER w IS NULL, false, v.version_updated_at, ${changeSeq}::bigint
    FROM latest l JOIN versions v USING (${key}, _grp)
    WINDOW w AS (PARTITION BY ${columnList(table.key, 'l')} ORDER BY v.valid_from)`)
  return res.rowCount ?? 0
}
