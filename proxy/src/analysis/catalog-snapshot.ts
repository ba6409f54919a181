import type pg from 'pg'
import type { RelationResolver } from './relation-resolver.js'

const RELATIONS_SQL = `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')`

/** What each plain view's rewrite rule reads (a materialized view is data of its own). */
const VIEW_DEPS_SQL = `SELECT DISTINCT vn.nspname || '.' || v.relname AS view, tn.nspname || '.' || t.relname AS base
  FROM pg_rewrite r
  JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
  JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace`

/** Loads the resolver with the database's relations and its views' dependencies. */
export async function loadCatalogSnapshot(client: pg.ClientBase, resolver: RelationResolver): Promise<void> {
  const relations = await client.query<{ schema: string; name: string }>(RELATIONS_SQL)
  const views = await client.query<{ view: string; base: string }>(VIEW_DEPS_SQL)
  resolver.load(relations.rows, views.rows)
}
