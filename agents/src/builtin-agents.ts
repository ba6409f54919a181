import type { ActionCommand } from '@cairn/core'
import type { Agent } from '@cairn/plugins'
import type pg from 'pg'
import type { Observable } from 'rxjs'
import type { ActionPolicyInput } from './actuator/action-policy.js'
import { type ActuatorAgent, useActuator } from './actuator/use-actuator.js'
import { hostCpuFromSamples } from './anomaly/host-cpu.js'
import { useAnomalyDetector } from './anomaly/use-anomaly-detector.js'
import { useCollectors } from './collectors/use-collectors.js'
import { useIndexAdvisor } from './indexes/use-index-advisor.js'
import type { PlanNode } from './latency/plan-features.js'
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
  /** The warehouse, for the index advisor's own read-only connections (in its worker). */
  databaseUrl: string
  /** The bus's `command` channel, so the API and UI can approve, apply and roll back. */
  commands?: Observable<ActionCommand>
  /** Modes per action kind, budgets, maintenance windows. Default: every kind `recommend`. */
  actionPolicy?: ActionPolicyInput
  /** How often the index advisor analyses the workload. Default 1 hour. */
  advisorIntervalMs?: number
  /** The index advisor's storage budget as a fraction of the database size. Default 0.1. */
  indexBudgetFraction?: number
}

/** The built-in agents and the handles other parts use (the latency predictor, the clusterer). */
export interface BuiltinAgents {
  readonly agents: Agent[]
  readonly workload: WorkloadClusterer
  readonly latency: LatencyPredictorAgent
  readonly actuator: ActuatorAgent
}

/**
 * The agents `cairn start` runs, in dependency order: the collectors, the
 * workload clusterer, the latency predictor (which takes a statement's cluster
 * as a feature) and the anomaly detector (which compares latencies with the
 * fingerprint's baseline and reads host CPU from the collectors), then the optimization
 * loop: the actuator and the index advisor, which proposes to it, reads its
 * past verdicts, and prices its recommendations with the latency model when
 * one is active.
 */
export function builtinAgents(options: BuiltinAgentOptions): BuiltinAgents {
  const { pool } = options
  const workload = useWorkloadClusterer({
    pool,
    ...(options.workloadIntervalMs ? { intervalMs: options.workloadIntervalMs } : {}),
    ...(options.workloadBucketMs ? { bucketMs: options.workloadBucketMs } : {}),
  })
  const latency = useLatencyPredictor({ pool, clusterOf: (event) => workload.clusterOf(event.fingerprint)?.id })
  // Latency is judged against each fingerprint's own baseline, as evaluated: the predictor's
  // latest prediction follows a plan change (it explains the new, slower plan) and would hide it.
  const anomaly = useAnomalyDetector({
    ...(options.anomalyIntervalMs ? { intervalMs: options.anomalyIntervalMs } : {}),
    hostCpu: hostCpuFromSamples(),
  })
  const collectors = useCollectors({
    pool,
    ...(options.collectorIntervalMs ? { intervalMs: options.collectorIntervalMs } : {}),
    ...(options.retentionDays ? { retentionDays: options.retentionDays } : {}),
  })
  const actuator = useActuator({
    pool,
    ...(options.actionPolicy ? { policy: options.actionPolicy } : {}),
    ...(options.commands ? { commands: options.commands } : {}),
  })
  const indexAdvisor = useIndexAdvisor({
    databaseUrl: options.databaseUrl,
    pool,
    ...(options.advisorIntervalMs ? { intervalMs: options.advisorIntervalMs } : {}),
    ...(options.indexBudgetFraction ? { budgetFraction: options.indexBudgetFraction } : {}),
    propose: (action) => actuator.actuator.propose(action),
    verdictFor: (key) => actuator.actuator.verdictFor(key),
    // Without an active model this throws, and the advisor prices by its cost ratio instead.
    predictMs: async (plan) => {
      // EXPLAIN (FORMAT JSON) gives [{ Plan: … }]; the model reads the plan's root node.
      const root = (Array.isArray(plan) ? plan[0] : plan) as { Plan?: PlanNode } | undefined
      if (!root?.Plan) throw new Error('not an EXPLAIN (FORMAT JSON) plan')
      const prediction = await latency.predictor.predictPlan(root.Plan)
      if (!prediction) throw new Error('no latency model is active')
      return prediction.ms
    },
  })
  return {
    agents: [collectors, workload.agent, latency, anomaly, actuator.agent, indexAdvisor],
    workload,
    latency,
    actuator,
  }
}
