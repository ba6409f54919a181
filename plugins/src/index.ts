export { assertSourcePlugin, defineSourcePlugin } from './pipeline/define-source-plugin.js'
export type {
  Source,
  SourceBatch,
  SourceContext,
  SourcePlugin,
  SourcePluginMeta,
} from './pipeline/source-plugin.js'
