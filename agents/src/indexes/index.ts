export type { AnalyzeIndexesInput, IndexAnalysis, StatementPlans } from './analyze-indexes.js'
export { analyzeIndexes } from './analyze-indexes.js'
export {
  type AdviseIndexesOptions,
  adviseIndexes,
  type IndexAdvice,
  type IndexAdvisorOptions,
  type PredictMs,
} from './index-advisor.js'
export type { IndexDefinition } from './index-definition.js'
export type { IndexRecommendation, IndexRejection, StatementEvidence } from './index-recommendation.js'
export type { IndexUsage } from './index-usage.js'
export { type UseIndexAdvisorOptions, useIndexAdvisor } from './use-index-advisor.js'
