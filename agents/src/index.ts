export * from './actuator/index.js'
export { AnomalyDetector, type AnomalyDetectorOptions } from './anomaly/anomaly-detector.js'
export { hostCpuFromSamples } from './anomaly/host-cpu.js'
export { type AnomalyDetectorAgentOptions, useAnomalyDetector } from './anomaly/use-anomaly-detector.js'
export { type BuiltinAgentOptions, type BuiltinAgents, builtinAgents } from './builtin-agents.js'
export * from './collectors/index.js'
export { AgentHost, type AgentHostOptions } from './host/agent-host.js'
export type { AgentState, AgentStatus } from './host/agent-runner.js'
export { type AgentService, type AgentServiceOptions, startAgentService } from './host/agent-service.js'
export { EventRelay, type EventRelayOptions } from './host/event-relay.js'
export { type FindingQuery, FindingStore } from './host/finding-store.js'
export { LeaderLock, type LeaderLockOptions } from './host/leader-lock.js'
export { loadAgentModules } from './host/load-agents.js'
export { readOnlyDb } from './host/read-only-db.js'
export { workerModule } from './host/worker-module.js'
export { WorkerPool, type WorkerPoolOptions } from './host/worker-pool.js'
export { exportOnnx } from './latency/export-onnx.js'
export { LatencyPredictor } from './latency/latency-predictor.js'
export { LatencySampleStore } from './latency/latency-sample-store.js'
export { OnnxLatencyModel } from './latency/onnx-latency-model.js'
export {
  explainFeatures,
  explainPlan,
  latencyModelName,
  planFeatureNames,
  planFeatures,
} from './latency/plan-features.js'
export { qError, summarizeQErrors } from './latency/q-error.js'
export { trainLatencyModel } from './latency/train-latency-model.js'
export { type LatencyPredictorAgent, useLatencyPredictor } from './latency/use-latency-predictor.js'
export { importOnnxModel } from './models/import-onnx-model.js'
export { activateModel, listModels, trainableModels, trainModelNow } from './models/model-commands.js'
export { ModelRegistry } from './models/model-registry.js'
export * from './workload/index.js'
