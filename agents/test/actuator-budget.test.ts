import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../test/support/test-database.js'
import { ActionStore } from '../src/actuator/action-store.js'

let db: TestDatabase
let pool: pg.Pool
beforeAll(async () => {
  db = await createMigratedTestDatabase('actuatorbudget')
  pool = new pg.Pool({ connectionString: db.url, max: 2 })
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

const insert = (kind: string, key: string, index: string, state: string, bytes: number | null) =>
  pool.query(
    `INSERT INTO cairn_meta.actions (kind, key, relation, apply_sql, apply_concurrently, rollback_sql,
       rollback_concurrently, reason, evidence, measured_size_bytes, source, state)
     VALUES ($1, $2, 'shop.orders', 'SELECT 1', false, 'SELECT 1', false, 'test', $3, $4, 'test', $5)`,
    [kind, key, JSON.stringify({ index }), bytes, state],
  )

describe('the storage the kept changes take', () => {
  it('counts kept and in-flight creations, not one a later kept drop removed', async () => {
    await insert('index.create', 'create x', 'cairn_x', 'kept', 1_000)
    await insert('index.create', 'create y', 'cairn_y', 'kept', 500)
    await insert('index.create', 'create z', 'cairn_z', 'rolled_back', 700)
    expect((await new ActionStore(pool).usage()).storageBytes).toBe(1_500)
    // The loop later dropped cairn_x (made redundant by a wider index): its bytes are free again.
    await insert('index.drop', 'drop x', 'cairn_x', 'kept', null)
    expect((await new ActionStore(pool).usage()).storageBytes).toBe(500)
  })
})
