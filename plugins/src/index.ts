export type {
  Agent,
  AgentContext,
  AgentDefinition,
  AgentFinding,
  AgentMeta,
  AgentWorkers,
  MaybePromise,
  ReadOnlyDb,
} from './agent/agent.js'
export { assertAgent, defineAgent, parseDependency } from './agent/define-agent.js'
export { assertSourcePlugin, defineSourcePlugin } from './pipeline/define-source-plugin.js'
export type {
  Source,
  SourceBatch,
  SourceContext,
  SourcePlugin,
  SourcePluginMeta,
} from './pipeline/source-plugin.js'
