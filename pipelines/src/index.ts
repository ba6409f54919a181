export { BronzeLoader, type BronzeLoadResult, bronzeLockKey } from './bronze/bronze-loader.js'
export { failedSilverSteps, goldRelations } from './dags/gold-aggregation.js'
export { pipelineDags } from './dags/index.js'
export type { PipelineHooks, PipelineSettings, SourceSpec } from './dags/pipeline-settings.js'
export { inboxDir, pipelineSettingsFromConfig } from './dags/settings-from-config.js'
export {
  type ClickstreamOptions,
  type DirtKind,
  defaultDirtRates,
  dirtKinds,
  type EntityName,
  entityNames,
  type GeneratedChunk,
  Generation,
  type GenerationSummary,
  type GeneratorOptions,
  generate,
  generatorOptionsSchema,
  type OutputFormat,
  type ResolvedGeneratorOptions,
  resolveGeneratorOptions,
  type WriteFilesOptions,
  type WriteFilesResult,
  writeFiles,
} from './generator/index.js'
export { type GoldRunOptions, type GoldRunResult, goldLockKey, runGold } from './gold/gold-step.js'
export { type DemoProgress, type DemoResult, runDemo } from './run/demo.js'
export { closeRun, openRun } from './run/pipeline-runs.js'
export { runSilver, type SilverRunOptions, type SilverRunResult } from './run/silver-run.js'
export {
  AIRFLOW_RUN_SUCCEEDED_TASK,
  type AirflowExportOptions,
  airflowAssetUri,
  airflowBashCommand,
  airflowCron,
  exportAirflowDags,
  renderAirflowDag,
} from './scheduler/airflow-export.js'
export type { DagDefinition, TaskContext, TaskDefinition, TaskOutcome } from './scheduler/dag.js'
export { defineDag, topologicalOrder, validateDags } from './scheduler/dag-validation.js'
export {
  type DagRunInfo,
  type DagRunStatus,
  type DagRunTrigger,
  type ReprocessMode,
  Scheduler,
  type SchedulerOptions,
  type TaskRunRecord,
  type TaskState,
} from './scheduler/scheduler.js'
export { startWebhookNotifier, type WebhookNotifier } from './scheduler/webhook-notifier.js'
export { extendDimDate } from './silver/dim-date.js'
export type { Rule, RuleAction, RuleKind } from './silver/rules.js'
export { effectiveRules, type RuleResult, runSilverStep, type SilverStepResult } from './silver/silver-step.js'
export type { ColumnSpec, ColumnType, InferredParent, SilverMode, SilverTable } from './silver/silver-table.js'
export { silverTables } from './silver/tables/index.js'
export { builtinSources, createSourceRegistry, type SourceRegistry } from './sources/builtin-sources.js'
export {
  compileFilePattern,
  DEFAULT_ENTITY_FROM_NAME,
  DEFAULT_FILES_PATTERN,
  type FilesSourceConfig,
  filesSource,
} from './sources/files-source.js'
export { generatorSource, optionsHash as generatorOptionsHash } from './sources/generator-source.js'
export {
  CLICKSTREAM_ENTITY,
  CLICKSTREAM_EVENT_TYPES,
  clickstreamEventSchema,
  createHttpIngest,
  type HttpIngest,
  type HttpIngestIssue,
  type HttpIngestOptions,
  type HttpIngestRequest,
  type HttpIngestResponse,
} from './sources/http-ingest.js'
export { type KafkaSourceConfig, kafkaSource } from './sources/kafka-source.js'
export type { UnparseableRecord } from './sources/raw-records.js'
export { type RedisStreamSourceConfig, redisStreamSource } from './sources/redis-stream-source.js'
export { type RunSourceOptions, type RunSourceResult, runSource, sourceName } from './sources/run-source.js'
export { type AnalyticTemplate, analyticTemplates, drawTemplate } from './workload/analytic-workload.js'
export {
  type AnalyticWorkloadOptions,
  type AnalyticWorkloadResult,
  runAnalyticWorkload,
  type TemplateTally,
} from './workload/run-analytic-workload.js'
export { loadWorkloadDomain, type WorkloadDomain } from './workload/workload-domain.js'
