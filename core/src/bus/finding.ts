import type { DeepReadonly } from './deep-freeze.js'

export type Severity = 'info' | 'warning' | 'critical'

/** What an agent (or a pipeline) concluded. Always says why, even when nothing was found. */
export type Finding = DeepReadonly<{
  id: string
  /** e.g. `index.recommendation`, `anomaly`, `pipeline.alert`. */
  kind: string
  /** Name of the agent or component that published it. */
  source: string
  /** A sentence a person can read. */
  reason: string
  severity: Severity
  at: number
  evidence: Record<string, unknown>
  /** Predicted benefit, in milliseconds of workload time saved per hour, where it applies. */
  predictedBenefitMs?: number
}>
