import type { Logger } from '@cairn/core'
import type { DagDefinition } from '../scheduler/dag.js'
import { validateDags } from '../scheduler/dag-validation.js'
import type { SourceRegistry } from '../sources/builtin-sources.js'
import { bronzeIngestionDag } from './bronze-ingestion.js'
import { goldAggregationDag } from './gold-aggregation.js'
import { maintenanceDag } from './maintenance.js'
import type { PipelineHooks, PipelineSettings } from './pipeline-settings.js'
import { silverTransformationDag } from './silver-transformation.js'

/** Cairn's four DAGs: bronze_ingestion → silver_transformation → gold_aggregation, and maintenance. */
export function pipelineDags(
  settings: PipelineSettings,
  registry: SourceRegistry,
  log: Logger,
  hooks: PipelineHooks = {},
): DagDefinition[] {
  return validateDags([
    bronzeIngestionDag(settings, registry, log),
    silverTransformationDag(),
    goldAggregationDag(hooks),
    maintenanceDag(settings, hooks),
  ])
}
