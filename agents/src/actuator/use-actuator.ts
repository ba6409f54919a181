import type { ActionCommand } from '@cairn/core'
import { type Agent, defineAgent } from '@cairn/plugins'
import type { Observable } from 'rxjs'
import { workerModule } from '../host/worker-module.js'
import { Actuator, type ActuatorOptions } from './actuator.js'
import type { JudgeVerificationInput, VerificationVerdict } from './judge-verification.js'

export interface UseActuatorOptions extends ActuatorOptions {
  /** The bus's `command` channel (`bus.on('command')`): approve, apply, rollback, reject from the API and UI. */
  commands?: Observable<ActionCommand>
  /** How often approved actions (by policy, or by another process's CLI) are looked for. Default 5 s. */
  pollMs?: number
  /** Finish actions a stopped process left applying or verifying, on start. Default true. */
  recoverOnStart?: boolean
  /** Judge verifications in the worker pool (off the event loop). Default true. */
  judgeInWorker?: boolean
}

/** The agent, and the actuator the advisors propose to and the CLI drives. */
export interface ActuatorAgent {
  readonly agent: Agent
  readonly actuator: Actuator
}

const judgeModule = workerModule(import.meta.url, './judge-verification.js')

/**
 * The actuator as an agent: on start it recovers interrupted actions, then
 * applies approved ones one at a time (polling, and at once when a proposal
 * or an approval arrives in this process), publishes `action.*` findings
 * through its context, and acts on the bus's commands. Advisors call
 * `actuator.propose(...)` directly.
 */
export function useActuator({
  commands,
  pollMs = 5_000,
  recoverOnStart = true,
  judgeInWorker = true,
  ...options
}: UseActuatorOptions): ActuatorAgent {
  const actuator = new Actuator(options)
  const agent = defineAgent({
    meta: {
      name: options.name ?? 'actuator',
      version: '1.0.0',
      description: 'Applies, verifies and rolls back changes',
    },
    async start(ctx) {
      let stopped = false
      let running: Promise<unknown> | undefined
      let again = false
      const tick = () => {
        if (stopped) return
        if (running) {
          again = true
          return
        }
        running = actuator
          .processApproved()
          .catch((err: unknown) => ctx.log.error({ err }, 'processing approved actions failed'))
          .finally(() => {
            running = undefined
            if (again) {
              again = false
              tick()
            }
          })
      }
      actuator.attach(
        {
          publish: (finding) => void ctx.publish(finding),
          ...(judgeInWorker
            ? {
                judge: (input: JudgeVerificationInput) =>
                  ctx.workers.run<VerificationVerdict>({ module: judgeModule, name: 'judgeVerification', input }),
              }
            : {}),
        },
        tick,
      )
      if (recoverOnStart)
        await actuator
          .recoverInterrupted()
          .catch((err: unknown) => ctx.log.error({ err }, 'recovering interrupted actions failed'))
      const subscription = commands?.subscribe((command) => {
        void actuator
          .handleCommand(command)
          .then((outcome) => ctx.log.info({ command, ok: outcome.ok }, outcome.reason))
          .catch((err: unknown) => ctx.log.error({ err, command }, 'an action command failed'))
      })
      const timer = setInterval(tick, pollMs)
      timer.unref()
      tick()
      return async () => {
        stopped = true
        clearInterval(timer)
        subscription?.unsubscribe()
        // A change under way finishes (and is verified or undone): stopping mid-DDL would leave it half done.
        await running
        actuator.attach(undefined)
      }
    },
  })
  return { agent, actuator }
}
