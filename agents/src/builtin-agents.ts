import type { Agent } from '@cairn/plugins'
import type pg from 'pg'
import { hostCpuFromSamples } from './anomaly/host-cpu.js'
import { useAnomalyDetector } from './anomaly/use-anomaly-detector.js'
import { useCollectors } from './collectors/use-collectors.js'
import { type LatencyPredictorAgent, useLatencyPredictor } from './latency/use-latency-predictor.js'
import { useWorkloadClusterer, type WorkloadClusterer } from './workload/use-workload-clusterer.js'

export interface BuiltinAgentOptions {
  /** A writable pool on Cairn's database, straight to PostgreSQL, for the agents' own `cairn_meta` tables. */
  pool: pg.Pool
  collectorIntervalMs?: number
  retentionDays?: number
  /** How often the workload is re-clustered. Default 10 minutes. */
  workloadIntervalMs?: number
  /** The arrival-rate forecast's bucket. Default 1 hour. */
  workloadBucketMs?: number
  /** The anomaly detector's interval. Default 1 minute. */
  anomalyIntervalMs?: number
}

/** The built-in agents and the handles other parts use (the latency predictor, the clusterer). */
export interface BuiltinAgents {
  readonly agents: Agent[]
  readonly workload: WorkloadClusterer
  readonly latency: LatencyPredictorAgent
}

/**
 * The agents `cairn start` runs, in dependency order: the collectors, the
 * workload clusterer, the latency predictor (which takes a statement's cluster
 * as a feature) and the anomaly detector (which compares latencies with the
 * predictor's and reads host CPU from the collectors).
 */
export function builtinAgents(options: BuiltinAgentOptions): BuiltinAgents {
  const { pool } = options
  const workload = useWorkloadClusterer({
    pool,
    ...(options.workloadIntervalMs ? { intervalMs: options.workloadIntervalMs } : {}),
    ...(options.workloadBucketMs ? { bucketMs: options.workloadBucketMs } : {}),
  })
  const latency = useLatencyPredictor({ pool, clusterOf: (event) => workload.clusterOf(event.fingerprint)?.id })
  const anomaly = useAnomalyDetector({
    ...(options.anomalyIntervalMs ? { intervalMs: options.anomalyIntervalMs } : {}),
    predictMs: (event) => latency.predictor.recentPredictionMs(event.fingerprint),
    hostCpu: hostCpuFromSamples(),
  })
  const collectors = useCollectors({
    pool,
    ...(options.collectorIntervalMs ? { intervalMs: options.collectorIntervalMs } : {}),
    ...(options.retentionDays ? { retentionDays: options.retentionDays } : {}),
  })
  return { agents: [collectors, workload.agent, latency, anomaly], workload, latency }
}
