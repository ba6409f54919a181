import { describe, expect, it } from 'vitest'
import { leavesSessionState } from './session-state.js'

describe('leavesSessionState', () => {
  it.each([
    'SET search_path = sales',
    'set application_name to x',
    '  /* bi tool */ SET TIME ZONE UTC',
    '-- comment\nSET statement_timeout = 5',
    'select 1; set work_mem = 1',
    'RESET ALL',
    'LISTEN orders',
    'PREPARE q AS select 1',
    'DEALLOCATE ALL',
    'DISCARD ALL',
    'CREATE TEMP TABLE t (id int)',
    'create temporary table t as select 1',
    'create local temp table t (i int)',
    'DECLARE c CURSOR WITH HOLD FOR select 1',
    'select pg_backend_pid()',
    'SELECT pg_advisory_lock(42)',
    "select set_config('search_path', 'x', false)",
  ])('pins for %j', (sql) => {
    expect(leavesSessionState(sql)).toBe(true)
  })

  it.each([
    'select 1',
    'SET LOCAL statement_timeout = 5',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SET CONSTRAINTS ALL DEFERRED',
    'UPDATE t SET x = 1',
    'select settings, reset_val from pg_settings',
    'BEGIN; SELECT * FROM gold.daily_sales; COMMIT',
    'DECLARE c CURSOR FOR select 1',
    'select pg_advisory_xact_lock(1)',
    'insert into listen_log values (1)',
  ])('does not pin for %j', (sql) => {
    expect(leavesSessionState(sql)).toBe(false)
  })
})
