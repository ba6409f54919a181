export { csvField, csvRow } from './csv-row.js'
export { Generation, generate } from './generate.js'
export type { GeneratedChunk, GenerationSummary } from './generation-summary.js'
export {
  type ClickstreamOptions,
  type DirtKind,
  defaultDirtRates,
  dirtKinds,
  type EntityName,
  entityNames,
  type GeneratorOptions,
  generatorOptionsSchema,
  type ResolvedGeneratorOptions,
  resolveGeneratorOptions,
} from './generator-options.js'
export { csvColumns, driftFields, entityFields } from './raw-record.js'
export { type OutputFormat, type WriteFilesOptions, type WriteFilesResult, writeFiles } from './write-files.js'
