import { createLogger } from '@cairn/core'
import pg from 'pg'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createMigratedTestDatabase, type TestDatabase } from '../../../test/support/test-database.js'
import type { DagDefinition } from '../../src/scheduler/dag.js'
import { Scheduler, type SchedulerOptions } from '../../src/scheduler/scheduler.js'

export interface SchedulerDatabase {
  /** Set once the file's `beforeAll` has run. */
  readonly pool: pg.Pool
  /** A scheduler on this database, stopped after each test. */
  scheduler(dags: DagDefinition[], options?: Partial<SchedulerOptions>): Scheduler
}

/** A migrated test database for a file of scheduler tests, with its hooks registered. */
export function useSchedulerDatabase(prefix: string, defaults: Partial<SchedulerOptions> = {}): SchedulerDatabase {
  const log = createLogger({ level: 'silent' })
  const schedulers: Scheduler[] = []
  let db: TestDatabase | undefined
  let pool: pg.Pool | undefined
  beforeAll(async () => {
    db = await createMigratedTestDatabase(prefix)
    pool = new pg.Pool({ connectionString: db.url, max: 10 })
  })
  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((s) => s.stop()))
  })
  afterAll(async () => {
    await pool?.end()
    await db?.drop()
  })
  return {
    get pool() {
      if (!pool) throw new Error('the scheduler test database is not ready yet (used outside a test?)')
      return pool
    },
    scheduler(dags, options = {}) {
      const s = new Scheduler({ pool: this.pool, dags, log, ...defaults, ...options })
      schedulers.push(s)
      return s
    },
  }
}
