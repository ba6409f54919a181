import { mkdir } from 'node:fs/promises'
import { type CairnConfig, connectPostgres, type Logger, loadConfig, migrate } from '@cairn/core'
import {
  createSourceRegistry,
  type DagDefinition,
  inboxDir,
  pipelineDags,
  pipelineSettingsFromConfig,
  Scheduler,
} from '@cairn/pipelines'
import { migrationsDir } from '@cairn/sql'
import pg from 'pg'
import { type OpenDatabase, openDatabase } from '../open-database.js'

/** Everything a `cairn pipeline …` command works with; `close()` releases it all. */
export interface PipelineContext {
  readonly config: CairnConfig
  readonly db: OpenDatabase
  readonly pool: pg.Pool
  readonly dags: readonly DagDefinition[]
  /** Knows the schedules (backfill plans periods with it); never started, so it queues but does not run. */
  readonly planner: Scheduler
  /** Runs queued runs in this process (no cron jobs): started by the commands that execute. */
  readonly executor: Scheduler
  close(): Promise<void>
}

export async function openPipelineContext(logger: Logger): Promise<PipelineContext> {
  const config = loadConfig()
  const db = await openDatabase(config, logger)
  const client = await connectPostgres(db.url)
  try {
    await migrate(client, migrationsDir)
  } finally {
    await client.end()
  }
  await mkdir(inboxDir(config), { recursive: true })
  const pool = new pg.Pool({ connectionString: db.url, max: 6, application_name: 'cairn-pipeline' })
  const dags = pipelineDags(pipelineSettingsFromConfig(config), createSourceRegistry(), logger)
  const planner = new Scheduler({ pool, dags, log: logger })
  const executor = new Scheduler({
    pool,
    dags: dags.map(({ schedule: _schedule, ...dag }) => dag),
    log: logger,
    tickMs: 250,
    instanceId: `cli:${planner.instanceId}`,
  })
  return {
    config,
    db,
    pool,
    dags,
    planner,
    executor,
    async close() {
      await executor.stop()
      await pool.end()
      await db.close()
    },
  }
}
