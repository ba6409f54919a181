/**
 * Does this SQL leave state on its server connection that outlives the
 * transaction (SET, LISTEN, PREPARE, temp tables, session advisory locks,
 * WITH HOLD cursors), or ask which backend it runs on (pg_backend_pid, which
 * Superset then passes to pg_terminate_backend)? Such a client is pinned to its
 * server connection for the rest of its session, and that connection is closed,
 * not reused, when the client leaves.
 *
 * A fast lexical check on the proxy's path (no parsing): statement starts after
 * `;` or leading comments, function names anywhere. It errs towards pinning
 * (a `;` inside a string literal can only cause a harmless pin). State changed
 * inside a function body (a PL/pgSQL `SET`) is not seen.
 */
const STATEMENT =
  /(?:^|;)\s*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*(?:set\s+(?!local\b|transaction\b|constraints\b)|reset\b|listen\b|unlisten\b|prepare\b|deallocate\b|discard\b|load\b|create\s+(?:(?:global|local)\s+)?temp(?:orary)?\b|create\s+unlogged\s+table\b(?=[\s\S]*\bpg_temp\b)|declare\b[^;]*\bwith\s+hold\b)/i
const FUNCTION =
  /\b(?:pg_backend_pid|pg_advisory_lock|pg_advisory_lock_shared|pg_try_advisory_lock|pg_try_advisory_lock_shared|set_config|dblink_connect)\s*\(/i

export function leavesSessionState(sql: string): boolean {
  return STATEMENT.test(sql) || FUNCTION.test(sql)
}
