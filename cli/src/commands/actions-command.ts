import { type ActionRecord, Actuator, adviseIndexes } from '@cairn/agents'
import { errors, type Logger } from '@cairn/core'
import { actionPolicyFromConfig } from '../agent-runtime.js'
import { type DatabaseContext, withDatabase } from '../database-context.js'
import { readRunState } from '../state-file.js'
import { parseSince } from './agents-command.js'
import { textTable } from './text-table.js'

const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : `${Math.round(v).toLocaleString('en-US')}`
const when = (at: number | null) => (at ? new Date(at).toISOString().replace('T', ' ').slice(0, 16) : '-')
const finalStates = new Set(['kept', 'rolled_back', 'failed', 'rejected'])

function actuatorFor(ctx: DatabaseContext, logger: Logger): Actuator {
  return new Actuator({ pool: ctx.pool, policy: actionPolicyFromConfig(ctx.config), name: 'cli', log: logger })
}

/** An action by its id (`cairn actions` lists them). */
async function findAction(actuator: Actuator, id: string): Promise<ActionRecord> {
  const action = /^\d+$/.test(id) ? await actuator.get(id) : undefined
  if (!action) throw errors.CONFIG_INVALID(`no action has the id ${JSON.stringify(id)} (see \`cairn actions\`)`)
  return action
}

function actionsTable(actions: readonly ActionRecord[]): string {
  return textTable(
    ['id', 'kind', 'relation', 'state', 'predicted ms/h', 'measured ms/h', 'proposed', 'source'],
    actions.map((a) => [
      a.id,
      a.kind,
      a.relation,
      a.state,
      ms(a.predictedBenefitMs),
      ms(a.measuredBenefitMs),
      when(a.proposedAt),
      a.source,
    ]),
  )
}

export const actionsCommands = {
  /**
   * `cairn advise`: the index advisor over the recent workload now; each recommendation is
   * proposed to the loop under the configured policy (stored as `recommended` unless the
   * policy says `auto` or `off`), then listed with its id and reason.
   */
  advise: (logger: Logger, opts: { dryRun?: boolean; rejected?: boolean }) =>
    withDatabase(logger, async (ctx) => {
      const actuator = actuatorFor(ctx, logger)
      const advice = await adviseIndexes({
        databaseUrl: ctx.db.url,
        budgetFraction: ctx.config.indexBudgetFraction,
        verdictFor: (key) => actuator.verdictFor(key),
      })
      process.stdout.write(`${advice.summary}\n\n`)
      if (advice.recommendations.length === 0) process.stdout.write('No index to recommend.\n')
      for (const r of advice.recommendations) {
        const proposed = opts.dryRun ? undefined : await actuator.propose(r)
        const id = proposed?.action ? proposed.action.id : '-'
        process.stdout.write(
          `${id}  ${r.kind}  ${r.relation}  predicted ${ms(r.predictedBenefitMs)} ms/h saved${r.sizeBytes ? `, ${(r.sizeBytes / 1024 / 1024).toFixed(1)} MiB` : ''}\n` +
            `    ${r.reason}\n    ${r.apply.sql}\n${proposed ? `    → ${proposed.outcome}: ${proposed.reason}\n` : ''}`,
        )
      }
      if (opts.rejected && advice.rejected.length > 0) {
        process.stdout.write(`\nConsidered and not recommended:\n`)
        for (const r of advice.rejected) process.stdout.write(`  ${r.kind}  ${r.index}: ${r.reason}\n`)
      }
      if (!opts.dryRun && advice.recommendations.length > 0)
        process.stdout.write('\nApply one with `cairn apply <id>`; see them all with `cairn actions`.\n')
      return 0
    }),

  /**
   * `cairn apply <id>`: with Cairn running, approves the action for its actuator and waits for the
   * verdict; otherwise applies, verifies and keeps or rolls back in this process.
   */
  apply: (logger: Logger, id: string, opts: { timeoutMinutes: number }) =>
    withDatabase(logger, async (ctx) => {
      const actuator = actuatorFor(ctx, logger)
      const action = await findAction(actuator, id)
      const running = readRunState(ctx.config.dataDir)
      let outcome: { ok: boolean; reason: string; action?: ActionRecord | undefined }
      if (running && ctx.config.agents === 'on') {
        const approved = await actuator.approve(action.id, 'cli')
        if (!approved.ok) outcome = approved
        else {
          process.stdout.write(`approved; the running Cairn (pid ${running.pid}) applies and verifies it…\n`)
          const deadline = Date.now() + opts.timeoutMinutes * 60_000
          let current = await actuator.get(action.id)
          while (current && !finalStates.has(current.state) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 1_000))
            current = await actuator.get(action.id)
          }
          outcome =
            current && finalStates.has(current.state)
              ? { ok: current.state === 'kept', reason: current.stateReason ?? current.state, action: current }
              : { ok: false, reason: `still ${current?.state} after ${opts.timeoutMinutes} min; see \`cairn actions\`` }
        }
      } else {
        process.stdout.write('applying, then verifying by replaying the captured statements…\n')
        outcome = await actuator.apply(action.id, 'cli')
      }
      process.stdout.write(`${outcome.action?.state ?? 'not applied'}: ${outcome.reason}\n`)
      return outcome.ok ? 0 : 1
    }),

  /** `cairn rollback <id>`: undoes an applied change now (DDL with the same safety as applying it). */
  rollback: (logger: Logger, id: string, opts: { reason?: string }) =>
    withDatabase(logger, async (ctx) => {
      const actuator = actuatorFor(ctx, logger)
      const action = await findAction(actuator, id)
      const outcome = await actuator.rollback(action.id, 'cli', opts.reason)
      process.stdout.write(`${outcome.action?.state ?? action.state}: ${outcome.reason}\n`)
      return outcome.ok ? 0 : 1
    }),

  /** `cairn actions`: what the loop recommended and did; `--audit <id>` prints one action's trail. */
  list: (logger: Logger, opts: { since?: string; state?: string; audit?: string }) =>
    withDatabase(logger, async (ctx) => {
      const actuator = actuatorFor(ctx, logger)
      if (opts.audit) {
        const action = await findAction(actuator, opts.audit)
        process.stdout.write(
          `${action.id} ${action.kind} ${action.relation}: ${action.state}${action.stateReason ? ` (${action.stateReason})` : ''}\n${action.reason}\n\n`,
        )
        const trail = await actuator.auditTrail(action.id)
        process.stdout.write(
          `${textTable(
            ['at', 'actor', 'event', 'outcome', 'sql'],
            trail.map((e) => [new Date(e.at).toISOString().slice(11, 23), e.actor, e.event, e.outcome, e.sql ?? '']),
          )}\n`,
        )
        return 0
      }
      const actions = await actuator.list({
        ...(opts.since ? { since: parseSince(opts.since) } : {}),
        ...(opts.state ? { state: opts.state as ActionRecord['state'] } : {}),
        limit: 200,
      })
      if (actions.length === 0) {
        process.stdout.write('No actions yet: `cairn advise` recommends, and the running loop proposes on its own.\n')
        return 0
      }
      process.stdout.write(`${actionsTable(actions)}\n`)
      for (const a of actions.filter((x) => x.stateReason))
        process.stdout.write(`\n${a.id} ${a.state}: ${a.stateReason}`)
      process.stdout.write('\n')
      return 0
    }),
}
