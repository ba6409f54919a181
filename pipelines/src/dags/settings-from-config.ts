import { join, resolve } from 'node:path'
import type { CairnConfig } from '@cairn/core'
import type { PipelineSettings } from './pipeline-settings.js'

/** The inbox the files source watches: CAIRN_PIPELINE_INBOX_DIR, or `<dataDir>/inbox`. */
export function inboxDir(config: CairnConfig): string {
  return resolve(config.pipelineInboxDir ?? join(config.dataDir, 'inbox'))
}

/**
 * The pipeline settings of a Cairn process: the files source on the inbox, and, when
 * CAIRN_PIPELINE_DEMO_ORDERS is above 0, the demo generator (it loads its data set once,
 * then has nothing new).
 */
export function pipelineSettingsFromConfig(config: CairnConfig): PipelineSettings {
  return {
    sources: [
      ...(config.pipelineDemoOrders > 0
        ? [{ plugin: 'generator', instance: 'demo', config: { orders: config.pipelineDemoOrders } }]
        : []),
      { plugin: 'files', instance: 'inbox', config: { dir: inboxDir(config) } },
    ],
    ingestCron: config.pipelineIngestCron,
    maintenanceCron: config.pipelineMaintenanceCron,
    bronzeRetentionDays: config.bronzeRetentionDays,
    telemetryRetentionDays: config.telemetryRetentionDays,
  }
}
