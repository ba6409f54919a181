import type { Logger } from '@cairn/core'
import { BronzeLoader } from '../bronze/bronze-loader.js'
import type { DagDefinition } from '../scheduler/dag.js'
import { defineDag } from '../scheduler/dag-validation.js'
import type { SourceRegistry } from '../sources/builtin-sources.js'
import { runSource } from '../sources/run-source.js'
import type { PipelineSettings } from './pipeline-settings.js'

/** bronze_ingestion: one task per configured source, each loading what is new into bronze. */
export function bronzeIngestionDag(settings: PipelineSettings, registry: SourceRegistry, log: Logger): DagDefinition {
  return defineDag({
    name: 'bronze_ingestion',
    description: 'Loads new data from every configured source into bronze (COPY, each batch at most once)',
    schedule: settings.ingestCron,
    deadlineMs: 30 * 60_000,
    tasks: settings.sources.map((spec) => ({
      name: `ingest_${spec.instance.replace(/[^a-z0-9_]/g, '_')}`,
      retries: 3,
      retryDelayMs: 5_000,
      timeoutMs: 60 * 60_000,
      async run(ctx) {
        const plugin = registry.get(spec.plugin)
        const result = await runSource(new BronzeLoader(ctx.pool), plugin, spec.config, {
          instance: spec.instance,
          log,
          signal: ctx.signal,
        })
        ctx.appendLog(`${result.rows} rows in ${result.loaded} new batches, ${result.skipped} already loaded`)
        return { summary: { ...result, changed: result.rows } }
      },
    })),
  })
}
