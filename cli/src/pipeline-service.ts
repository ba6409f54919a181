import { mkdir } from 'node:fs/promises'
import type { CairnConfig, EventBus, Logger } from '@cairn/core'
import {
  createSourceRegistry,
  inboxDir,
  pipelineDags,
  pipelineSettingsFromConfig,
  Scheduler,
  startWebhookNotifier,
} from '@cairn/pipelines'
import pg from 'pg'

export interface PipelineService {
  readonly scheduler: Scheduler
  readonly inbox: string
  stop(): Promise<void>
}

/**
 * The pipelines of `cairn start`: the four DAGs on their schedules (bronze_ingestion on
 * CAIRN_PIPELINE_INGEST_CRON, silver and gold after it when data changed, maintenance nightly),
 * alerts to CAIRN_PIPELINE_WEBHOOK_URL, and one bronze_ingestion run right away, which loads the
 * demo data set on a first start and any files already in the inbox.
 */
export async function startPipelineService(
  config: CairnConfig,
  databaseUrl: string,
  bus: EventBus,
  logger: Logger,
  cache?: { bump(relations: readonly string[], source: 'pipeline'): Promise<void> },
): Promise<PipelineService> {
  const log = logger.child({ component: 'pipelines' })
  const inbox = inboxDir(config)
  await mkdir(inbox, { recursive: true })
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 6, application_name: 'cairn pipelines' })
  pool.on('error', (err) => log.warn({ err }, 'pipeline database connection lost'))
  // The result cache is told what a pipeline changed where its WAL follower cannot see it
  // (REFRESH MATERIALIZED VIEW); relation names here are unquoted `schema.name`.
  const dags = pipelineDags(pipelineSettingsFromConfig(config), createSourceRegistry(), log, {
    dataChanged: async (relations) => {
      await cache?.bump(relations, 'pipeline')
    },
  })
  const scheduler = new Scheduler({ pool, dags, log, bus })
  const notifier = config.pipelineWebhookUrl
    ? startWebhookNotifier({ bus, url: config.pipelineWebhookUrl, log })
    : undefined
  scheduler.start()
  const first = await scheduler.trigger('bronze_ingestion')
  log.info(
    { inbox, dagRunId: first, dags: dags.map((d) => d.name) },
    `pipelines scheduled; drop CSV/JSONL files into ${inbox}`,
  )
  return {
    scheduler,
    inbox,
    async stop() {
      await scheduler.stop()
      if (notifier) {
        notifier()
        await notifier.flush()
      }
      await pool.end()
    },
  }
}
