export {
  type ActionMode,
  type ActionPolicy,
  type ActionPolicyInput,
  describeWindows,
  inMaintenanceWindow,
  modeOf,
  parseActionPolicy,
} from './action-policy.js'
export type { ActionAuditEntry, ActionAuditEvent, ActionRecord, ActionState } from './action-record.js'
export type { ActionQuery } from './action-store.js'
export { type ActionOutcome, Actuator, type ActuatorOptions, type ProposeOutcome } from './actuator.js'
export type { FingerprintJudgement, VerificationVerdict } from './judge-verification.js'
export { type MaintenanceWindow, parseMaintenanceWindow } from './maintenance-window.js'
export type { ActionStatement, ProposedAction } from './proposed-action.js'
export { type ActionVerdict, defaultRetryRule, type RetryRule, retryDecision } from './retry-rule.js'
export { type ActuatorAgent, type UseActuatorOptions, useActuator } from './use-actuator.js'
export type { ReplayOptions } from './verify-by-replay.js'
