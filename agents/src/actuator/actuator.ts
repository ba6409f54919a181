import { randomUUID } from 'node:crypto'
import type { ActionCommand, Logger, Severity } from '@cairn/core'
import type { AgentFinding } from '@cairn/plugins'
import type pg from 'pg'
import {
  type ActionPolicy,
  type ActionPolicyInput,
  describeWindows,
  inMaintenanceWindow,
  modeOf,
  parseActionPolicy,
} from './action-policy.js'
import type { ActionAuditEntry, ActionRecord, ActionState } from './action-record.js'
import { type ActionPatch, type ActionQuery, ActionStore, type AuditStep } from './action-store.js'
import { applyDdl, type DdlOptions, type DdlResult, dropInvalidIndexStatement, invalidIndexes } from './apply-ddl.js'
import { type JudgeVerificationInput, judgeVerification, type VerificationVerdict } from './judge-verification.js'
import type { ProposedAction } from './proposed-action.js'
import { lockRelation, unlockRelation } from './relation-lock.js'
import { type ActionVerdict, defaultRetryRule, type RetryRule, retryDecision } from './retry-rule.js'
import { VerdictStore } from './verdict-store.js'
import {
  type Baseline,
  captureBaseline,
  fingerprintSamples,
  maintenanceCount,
  type PhaseMeasurement,
  type ReplayOptions,
  replayAfter,
} from './verify-by-replay.js'

export interface ActuatorOptions {
  /** A writable pool: `cairn_meta.actions*`, the DDL and the replays. */
  pool: pg.Pool
  /** Modes per kind, budgets, windows. Default: every kind `recommend`, no storage budget, one change at a time, always. */
  policy?: ActionPolicyInput
  /** The source of its findings. Default `actuator`. */
  name?: string
  /** When a rolled-back, failed or rejected candidate may be proposed again. */
  retry?: Partial<RetryRule>
  /** How verification replays the workload (budget default 60 s for both phases). */
  replay?: ReplayOptions
  /**
   * Least weighted improvement to keep a change, for all kinds or per kind (kinds not listed: 0.05).
   * Default `{ 'index.drop': 0 }`: a drop is kept unless it slows the workload; anything else must speed it up by 5 %.
   */
  minImprovement?: number | Readonly<Record<string, number>>
  /** Largest slowdown of one affected fingerprint tolerated. Default 0.10. */
  maxRegression?: number
  /** Significance level of the tests. Default 0.05. */
  alpha?: number
  /** Bootstrap resamples. Default 2000. */
  resamples?: number
  /** lock_timeout (default 5 s) and statement_timeout (default 10 min) of the DDL. */
  ddl?: DdlOptions
  /** The clock maintenance windows are read on (epoch ms). Default `Date.now`. */
  now?: () => number
  log?: Logger
}

/** The result of a command: done or not, and why, as a sentence. */
export interface ActionOutcome {
  readonly ok: boolean
  readonly reason: string
  readonly action?: ActionRecord
}

/** What became of a proposal. */
export interface ProposeOutcome {
  /** `stored`: a new action; `duplicate`: a live action already holds the key; `suppressed`: its last verdict holds it back; `invalid`. */
  readonly outcome: 'stored' | 'duplicate' | 'suppressed' | 'invalid'
  readonly reason: string
  readonly action?: ActionRecord
}

/** Where findings and judgements go; an agent attaches its context's, else findings go straight to `cairn_meta.findings`. */
export interface ActuatorAttachment {
  publish(finding: AgentFinding): void
  judge?(input: JudgeVerificationInput): Promise<VerificationVerdict>
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3))
const kb = (bytes: number) =>
  bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`
const sentence = (s: string) => (/[.!?]$/.test(s.trim()) ? s.trim() : `${s.trim()}.`)
const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err))

/**
 * The actuator: takes the changes advisors propose, and under the policy
 * stores them as recommendations or applies them — one at a time per table,
 * with safe DDL — after measuring the affected workload, measures it again
 * after, and keeps the change only if it pays (see `judgeVerification`), else
 * rolls it back. Every step is written to `cairn_meta.action_audit` before and
 * after it runs, every verdict to `cairn_meta.action_verdicts`. The state is in
 * PostgreSQL, so another process (the CLI) can approve and this one applies.
 */
export class Actuator {
  readonly #pool: pg.Pool
  readonly #actions: ActionStore
  readonly #verdicts: VerdictStore
  readonly #name: string
  readonly #retry: RetryRule
  readonly #replay: ReplayOptions
  readonly #minImprovement: number | Readonly<Record<string, number>>
  readonly #maxRegression: number
  readonly #alpha: number
  readonly #resamples: number
  readonly #ddl: DdlOptions
  readonly #now: () => number
  readonly #log: Logger | undefined
  #policy: ActionPolicy
  #attachment: ActuatorAttachment | undefined
  #wake: (() => void) | undefined
  // One change at a time in this process: apply, rollback and the approved queue wait their turn.
  #turn: Promise<unknown> = Promise.resolve()

  constructor({
    pool,
    policy = {},
    name = 'actuator',
    retry = {},
    replay = {},
    minImprovement = { 'index.drop': 0 },
    maxRegression = 0.1,
    alpha = 0.05,
    resamples = 2000,
    ddl = {},
    now = Date.now,
    log,
  }: ActuatorOptions) {
    this.#pool = pool
    this.#actions = new ActionStore(pool)
    this.#verdicts = new VerdictStore(pool)
    this.#name = name
    this.#retry = { ...defaultRetryRule, ...retry }
    this.#replay = replay
    this.#minImprovement = minImprovement
    this.#maxRegression = maxRegression
    this.#alpha = alpha
    this.#resamples = resamples
    this.#ddl = ddl
    this.#now = now
    this.#log = log
    this.#policy = parseActionPolicy(policy)
  }

  get policy(): ActionPolicy {
    return this.#policy
  }

  /** Replaces the policy (settings changed); throws `CAIRN_ERR_CONFIG_INVALID` and keeps the old one if invalid. */
  setPolicy(input: ActionPolicyInput): void {
    this.#policy = parseActionPolicy(input)
  }

  /** Called by the agent on start: findings through its context, judgements in its worker pool. */
  attach(attachment: ActuatorAttachment | undefined, wake?: () => void): void {
    this.#attachment = attachment
    this.#wake = wake
  }

  // ---- proposals -------------------------------------------------------------------------------

  /**
   * An advisor proposes a change. A live action with the same key is returned
   * as is; a key whose last verdict holds it back (see `retryDecision`) is not
   * stored. Otherwise, by the kind's mode: `off` stores it rejected with the
   * reason (once); `recommend` stores it and publishes `action.recommended`;
   * `auto` approves it, refusing it when it would exceed the storage budget,
   * and the actuator applies it (in the maintenance window).
   */
  async propose(action: ProposedAction): Promise<ProposeOutcome> {
    const invalid = invalidProposal(action)
    if (invalid) return { outcome: 'invalid', reason: invalid }
    const live = await this.#actions.liveByKey(action.key)
    if (live)
      return {
        outcome: 'duplicate',
        reason: `${action.key} is already action #${live.id} (${live.state}).`,
        action: live,
      }
    const verdict = await this.#verdicts.verdictFor(action.key)
    if (verdict && verdict.verdict !== 'kept') {
      const decision = retryDecision(verdict, action.predictedBenefitMs, Date.now(), this.#retry)
      if (!decision.retry)
        return { outcome: 'suppressed', reason: sentence(`Not proposing ${action.key} again: ${decision.why}`) }
    }
    const mode = modeOf(this.#policy, action.kind)
    const refusal =
      mode === 'off'
        ? { code: 'mode-off', reason: `the policy for ${action.kind} is off` }
        : mode === 'auto'
          ? await this.#budgetRefusal(action)
          : undefined
    if (refusal) {
      // Refused by the policy: stored once; the same refusal again is not stored again.
      const latest = await this.#actions.latestByKey(action.key)
      if (latest?.state === 'rejected' && latest.verdict?.refused === refusal.code)
        return {
          outcome: 'duplicate',
          reason: `${action.key} was refused already (#${latest.id}): ${refusal.reason}.`,
          action: latest,
        }
      const stored = await this.#actions.insert(
        action,
        'rejected',
        { stateReason: sentence(`Refused: ${refusal.reason}`), verdict: { refused: refusal.code } },
        [
          { actor: action.source, event: 'proposed', outcome: 'ok', detail: { mode } },
          {
            actor: 'policy',
            event: 'rejected',
            outcome: 'ok',
            detail: { refused: refusal.code, reason: refusal.reason },
          },
        ],
      )
      if (stored)
        this.#publishFinding(
          'action.rejected',
          'info',
          `Refused ${action.key} on ${action.relation}: ${refusal.reason}.`,
          stored,
        )
      return stored
        ? { outcome: 'stored', reason: `Refused: ${refusal.reason}.`, action: stored }
        : this.#raced(action.key)
    }
    if (mode === 'recommend') {
      const stored = await this.#actions.insert(action, 'recommended', {}, [
        { actor: action.source, event: 'proposed', outcome: 'ok', detail: { mode } },
      ])
      if (!stored) return this.#raced(action.key)
      this.#publishFinding(
        'action.recommended',
        'info',
        `Recommended ${action.key} (action #${stored.id}): ${sentence(action.reason)} It waits for approval.`,
        stored,
      )
      return { outcome: 'stored', reason: 'Stored as a recommendation; it waits for approval.', action: stored }
    }
    const inWindow = inMaintenanceWindow(this.#policy, new Date(this.#now()))
    const steps: AuditStep[] = [
      { actor: action.source, event: 'proposed', outcome: 'ok', detail: { mode } },
      { actor: 'policy', event: 'approved', outcome: 'ok', detail: { mode } },
    ]
    if (!inWindow)
      steps.push({
        actor: 'policy',
        event: 'deferred',
        outcome: 'skipped',
        detail: { windows: describeWindows(this.#policy) },
      })
    const stored = await this.#actions.insert(action, 'approved', { approvedBy: 'policy' }, steps)
    if (!stored) return this.#raced(action.key)
    if (!inWindow)
      this.#publishFinding(
        'action.deferred',
        'info',
        `Approved ${action.key} (action #${stored.id}) by policy; it waits for the maintenance window (${describeWindows(this.#policy)}).`,
        stored,
      )
    this.#wake?.()
    return {
      outcome: 'stored',
      reason: inWindow
        ? 'Approved by policy; it is applied next.'
        : `Approved by policy; it waits for the maintenance window (${describeWindows(this.#policy)}).`,
      action: stored,
    }
  }

  async #raced(key: string): Promise<ProposeOutcome> {
    const live = await this.#actions.liveByKey(key)
    return live
      ? { outcome: 'duplicate', reason: `${key} is already action #${live.id} (${live.state}).`, action: live }
      : { outcome: 'duplicate', reason: `${key} was proposed at the same time by another process.` }
  }

  /** Why the storage budget refuses the action, if it does. */
  async #budgetRefusal(
    action: ProposedAction,
    db: pg.ClientBase | pg.Pool = this.#pool,
  ): Promise<{ code: string; reason: string } | undefined> {
    const budget = this.#policy.storageBudgetBytes
    if (budget === null || action.sizeBytes === undefined) return undefined
    const { storageBytes } = await this.#actions.usage(db)
    if (storageBytes + action.sizeBytes <= budget) return undefined
    return {
      code: 'storage-budget',
      reason: `its ${kb(action.sizeBytes)} would exceed the storage budget of ${kb(budget)} (${kb(storageBytes)} already taken by kept changes)`,
    }
  }

  // ---- commands --------------------------------------------------------------------------------

  /** A person approves a recommendation; a running actuator applies it (in the maintenance window). */
  async approve(id: string, actor: string): Promise<ActionOutcome> {
    const action = await this.#actions.transition(id, ['recommended'], 'approved', { approvedBy: actor }, [
      { actor, event: 'approved', outcome: 'ok' },
    ])
    if (!action) return this.#wrongState(id, 'approved', ['recommended'])
    this.#wake?.()
    return { ok: true, reason: `Approved action #${id} (${action.key}); it is applied in turn.`, action }
  }

  /** A person rejects a recommendation (or an approved action not yet applied). */
  async reject(id: string, actor: string, reason = 'no reason given'): Promise<ActionOutcome> {
    const why = sentence(`Rejected by ${actor}: ${reason}`)
    const action = await this.#actions.transition(id, ['recommended', 'approved'], 'rejected', { stateReason: why }, [
      { actor, event: 'rejected', outcome: 'ok', detail: { reason } },
    ])
    if (!action) return this.#wrongState(id, 'rejected', ['recommended', 'approved'])
    await this.#recordVerdict(action, 'rejected', why, null)
    this.#publishFinding(
      'action.rejected',
      'info',
      `Rejected ${action.key} (action #${id}): ${sentence(reason)}`,
      action,
    )
    return { ok: true, reason: why, action }
  }

  /**
   * Applies an action now, in this process (the CLI's apply, or the `apply`
   * command), and verifies it: a person's decision, so a recommended action
   * is approved by it, and the maintenance window does not hold it back; the
   * budgets and the one-change-per-table lock still do. Resolves once kept,
   * rolled back or failed.
   */
  apply(id: string, actor: string): Promise<ActionOutcome> {
    return this.#inTurn(() => this.#execute(id, actor, true))
  }

  /** Rolls back a kept action (its rollback DDL), recording the verdict: the key is not proposed again blindly. */
  rollback(id: string, actor: string, reason?: string): Promise<ActionOutcome> {
    return this.#inTurn(() => this.#rollbackKept(id, actor, reason))
  }

  /**
   * Applies the approved actions, oldest approval first, one at a time, those
   * the policy lets through now (maintenance window, concurrency, storage);
   * the others wait for a later call. What the agent runs on each poll.
   */
  processApproved(): Promise<ActionOutcome[]> {
    return this.#inTurn(async () => {
      const outcomes: ActionOutcome[] = []
      if (!inMaintenanceWindow(this.#policy, new Date(this.#now()))) return outcomes
      for (const action of await this.#actions.approved())
        outcomes.push(await this.#execute(action.id, 'actuator', false))
      return outcomes
    })
  }

  /** Acts on a command from the bus (the API, the UI, another process's CLI). */
  async handleCommand(command: ActionCommand): Promise<ActionOutcome> {
    switch (command.type) {
      case 'approve':
        return this.approve(command.actionId, command.actor)
      case 'apply':
        return this.apply(command.actionId, command.actor)
      case 'rollback':
        return this.rollback(command.actionId, command.actor, command.reason)
      case 'reject':
        return this.reject(command.actionId, command.actor, command.reason)
    }
  }

  /**
   * Finishes the actions a stopped process left applying or verifying (their
   * table's lock is free: nobody works on them): drops what a half-done
   * concurrent build left invalid, undoes the change when its DDL had started,
   * and marks them failed. Run on start.
   */
  recoverInterrupted(): Promise<ActionOutcome[]> {
    return this.#inTurn(async () => {
      const outcomes: ActionOutcome[] = []
      for (const action of await this.#actions.inFlight()) {
        const ddl = await this.#pool.connect()
        try {
          if (!(await lockRelation(ddl, action.relation))) continue
          outcomes.push(
            await this.#recover(action, ddl, `it was interrupted while ${action.state} (its process stopped)`),
          )
        } finally {
          ddl.release(true)
        }
      }
      return outcomes
    })
  }

  // ---- readers ---------------------------------------------------------------------------------

  get(id: string): Promise<ActionRecord | undefined> {
    return this.#actions.get(id)
  }

  /** Newest first. */
  list(query: ActionQuery = {}): Promise<ActionRecord[]> {
    return this.#actions.list(query)
  }

  /** Every step of an action, in order: actor, event, SQL, outcome. */
  auditTrail(id: string): Promise<ActionAuditEntry[]> {
    return this.#actions.auditTrail(id)
  }

  /** The last verdict on a candidate key: what advisors check before proposing it again. */
  verdictFor(key: string): Promise<ActionVerdict | undefined> {
    return this.#verdicts.verdictFor(key)
  }

  /** Recent verdicts, newest first: predicted against measured benefit, for the advisors and the latency predictor. */
  recentVerdicts(options: { since?: number; kind?: string; limit?: number } = {}): Promise<ActionVerdict[]> {
    return this.#verdicts.recent(options)
  }

  // ---- the change itself -----------------------------------------------------------------------

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work)
    this.#turn = run.catch(() => {})
    return run
  }

  async #wrongState(id: string, wanted: string, from: readonly ActionState[]): Promise<ActionOutcome> {
    const action = await this.#actions.get(id)
    if (!action) return { ok: false, reason: `There is no action #${id}.` }
    return {
      ok: false,
      reason: `Action #${id} is ${action.state.replace('_', ' ')}; only ${from.join(' or ')} actions can be ${wanted}.`,
      action,
    }
  }

  async #execute(id: string, actor: string, explicit: boolean): Promise<ActionOutcome> {
    const from: ActionState[] = explicit ? ['approved', 'recommended'] : ['approved']
    const action = await this.#actions.get(id)
    if (!action || !from.includes(action.state)) return this.#wrongState(id, 'applied', from)
    const ddl = await this.#pool.connect()
    let locked = false
    try {
      locked = await lockRelation(ddl, action.relation)
      if (!locked) {
        const reason = `Another change on ${action.relation} is in progress; action #${id} waits its turn.`
        if (explicit)
          await this.#actions.audit(id, { actor, event: 'deferred', outcome: 'skipped', detail: { reason } })
        return { ok: false, reason, action }
      }
      const claimed = await this.#claim(action, actor, explicit)
      if (!claimed.ok || !claimed.action) return claimed
      try {
        return await this.#applyAndVerify(claimed.action, ddl, actor)
      } catch (err) {
        // The database connection broke, or a bug: undone as after a crash, and failed with the reason.
        this.#log?.error({ err, actionId: id }, 'action stopped unexpectedly')
        return this.#recover(claimed.action, ddl, `it stopped unexpectedly (${errorMessage(err)})`)
      }
    } finally {
      if (locked) await unlockRelation(ddl, action.relation).catch(() => {})
      ddl.release(true)
    }
  }

  /** Moves the action to `applying` under the claim lock, if the budgets allow it now. */
  async #claim(action: ActionRecord, actor: string, explicit: boolean): Promise<ActionOutcome> {
    const client = await this.#pool.connect()
    let refused: { code: string; reason: string } | undefined
    try {
      await client.query('BEGIN')
      // Serialises claims across processes, so the concurrency count and the storage sum hold.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('cairn_meta.actions.claim'), 0)`)
      const usage = await this.#actions.usage(client)
      if (usage.inFlight >= this.#policy.maxConcurrentChanges) {
        await client.query('ROLLBACK')
        const reason = `${usage.inFlight} change${usage.inFlight === 1 ? ' is' : 's are'} in progress (at most ${this.#policy.maxConcurrentChanges} at once); action #${action.id} waits its turn.`
        if (explicit)
          await this.#actions.audit(action.id, { actor, event: 'deferred', outcome: 'skipped', detail: { reason } })
        return { ok: false, reason, action }
      }
      refused = await this.#budgetRefusal(action, client)
      const steps: AuditStep[] =
        action.state === 'recommended' ? [{ actor, event: 'approved', outcome: 'ok', detail: { by: 'apply' } }] : []
      const patch: ActionPatch = refused
        ? { stateReason: sentence(`Refused: ${refused.reason}`), verdict: { refused: refused.code } }
        : action.state === 'recommended'
          ? { approvedBy: actor }
          : {}
      if (refused)
        steps.push({
          actor: 'policy',
          event: 'rejected',
          outcome: 'ok',
          detail: { refused: refused.code, reason: refused.reason },
        })
      const next = await this.#actions.transition(
        action.id,
        [action.state],
        refused ? 'rejected' : 'applying',
        patch,
        steps,
        client,
      )
      await client.query('COMMIT')
      if (!next) return this.#wrongState(action.id, 'applied', [action.state])
      if (refused) {
        this.#publishFinding(
          'action.rejected',
          'info',
          `Refused ${action.key} on ${action.relation}: ${refused.reason}.`,
          next,
        )
        return { ok: false, reason: sentence(`Refused: ${refused.reason}`), action: next }
      }
      return { ok: true, reason: 'claimed', action: next }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async #applyAndVerify(action: ActionRecord, ddl: pg.PoolClient, actor: string): Promise<ActionOutcome> {
    // 1. The baseline, before anything changes.
    await this.#actions.audit(action.id, {
      actor,
      event: 'baseline.start',
      outcome: 'started',
      detail: { fingerprints: action.affectedFingerprints },
    })
    let baseline: Baseline
    const maintenanceBefore = await maintenanceCount(this.#pool, action.relation)
    try {
      baseline = await captureBaseline(this.#pool, action.affectedFingerprints, this.#replay)
    } catch (err) {
      await this.#actions.audit(action.id, {
        actor,
        event: 'baseline.end',
        outcome: 'error',
        detail: { error: errorMessage(err) },
      })
      return this.#fail(
        action,
        ['applying'],
        actor,
        `its workload could not be replayed before the change (${errorMessage(err)}); nothing was changed`,
        {},
      )
    }
    await this.#actions.audit(action.id, {
      actor,
      event: 'baseline.end',
      outcome: baseline.statements.length > 0 ? 'ok' : 'error',
      detail: phaseDetail(baseline, baseline.before),
    })
    if (baseline.statements.length === 0)
      return this.#fail(
        action,
        ['applying'],
        actor,
        `nothing to measure it by: no statement of the affected fingerprints (${action.affectedFingerprints.join(', ') || 'none given'}) was captured with its text recently and replays; nothing was changed`,
        {},
      )

    // 2. The change.
    await this.#actions.audit(action.id, {
      actor,
      event: 'apply.start',
      sql: action.apply.sql,
      outcome: 'started',
      detail: { invalidBefore: await invalidIndexes(ddl, action.relation) },
    })
    const applied = await applyDdl(ddl, action.relation, action.apply, this.#ddl)
    await this.#actions.audit(action.id, {
      actor,
      event: 'apply.end',
      sql: action.apply.sql,
      outcome: applied.ok ? 'ok' : 'error',
      detail: ddlDetail(applied),
    })
    if (!applied.ok) {
      const dropped = await this.#cleanup(action, ddl, actor, applied.leftoverInvalid)
      const left = applied.leftoverInvalid.filter((n) => !dropped.includes(n))
      const cleanup = [
        dropped.length > 0 ? `dropped the invalid index ${dropped.join(', ')} it left behind` : '',
        left.length > 0 ? `could not drop the invalid index ${left.join(', ')} it left behind` : '',
      ].filter(Boolean)
      return this.#fail(
        action,
        ['applying'],
        actor,
        `its DDL failed: ${applied.error}${applied.sqlstate ? ` (SQLSTATE ${applied.sqlstate})` : ''}${cleanup.length > 0 ? `; ${cleanup.join('; ')}` : ''}`,
        { ddl: ddlDetail(applied), droppedInvalid: dropped },
      )
    }
    const sizeBytes = applied.created.reduce((sum, i) => sum + i.bytes, 0)
    const verifying = await this.#actions.transition(
      action.id,
      ['applying'],
      'verifying',
      applied.created.length > 0 ? { measuredSizeBytes: sizeBytes } : {},
      [],
    )
    if (!verifying) throw new Error(`action #${action.id} left the applying state while it was applied`)
    this.#publishFinding(
      'action.applied',
      'info',
      `Applied ${action.key} on ${action.relation} in ${fmt(applied.durationMs)} ms${applied.created.length > 0 ? ` (${kb(sizeBytes)})` : ''}; verifying it by replaying ${baseline.statements.length} statement${baseline.statements.length === 1 ? '' : 's'} ${baseline.before.passes} times.`,
      verifying,
      { durationMs: applied.durationMs, created: applied.created },
    )

    // 3. The measurement after, and the verdict.
    await this.#actions.audit(action.id, { actor, event: 'verify.start', outcome: 'started' })
    let verdict: VerificationVerdict
    let after: PhaseMeasurement | undefined
    try {
      after = await replayAfter(this.#pool, baseline, this.#replay)
      verdict = await this.#judge({
        fingerprints: fingerprintSamples(baseline, after),
        minImprovement: this.#minImprovementFor(action.kind),
        maxRegression: this.#maxRegression,
        alpha: this.#alpha,
        resamples: this.#resamples,
        seed: Number(action.id),
        predictedBenefitMs: action.predictedBenefitMs ?? null,
      })
    } catch (err) {
      verdict = {
        keep: false,
        reason: `The workload could not be replayed after the change (${errorMessage(err)}).`,
        weightedRatio: null,
        improvement: null,
        interval: null,
        measuredBenefitMs: null,
        predictedBenefitMs: action.predictedBenefitMs ?? null,
        fingerprints: [],
      }
    }
    if (after && (await maintenanceCount(this.#pool, action.relation)) !== maintenanceBefore)
      verdict = {
        ...verdict,
        disturbed: true,
        reason: `${verdict.reason.replace(/\.$/, '')} (a vacuum or analyze of ${action.relation} ran during the verification: the numbers include its effect).`,
      }
    const verdictDetail = {
      ...verdict,
      passes: baseline.before.passes,
      statements: baseline.statements.length,
      unmeasured: baseline.unmeasured,
      replayMs: baseline.before.durationMs + (after?.durationMs ?? 0),
    }
    await this.#actions.audit(action.id, {
      actor,
      event: 'verify.end',
      outcome: after ? 'ok' : 'error',
      detail: {
        keep: verdict.keep,
        reason: verdict.reason,
        weightedRatio: verdict.weightedRatio,
        interval: verdict.interval,
      },
    })
    if (verdict.keep) {
      const kept = await this.#actions.transition(
        action.id,
        ['verifying'],
        'kept',
        { stateReason: verdict.reason, measuredBenefitMs: verdict.measuredBenefitMs, verdict: verdictDetail },
        [{ actor, event: 'kept', outcome: 'ok', detail: { reason: verdict.reason } }],
      )
      await this.#recordVerdict(action, 'kept', verdict.reason, verdict)
      if (kept)
        this.#publishFinding('action.kept', 'info', `Kept ${action.key}: ${verdict.reason}`, kept, verdictDetail)
      return { ok: true, reason: `Kept: ${verdict.reason}`, ...(kept ? { action: kept } : {}) }
    }

    // 4. It does not pay: undone.
    const undone = await this.#runRollback(action, ddl, actor)
    if (!undone.ok) {
      const failed = await this.#fail(
        action,
        ['verifying'],
        actor,
        `verification did not keep it (${verdict.reason.replace(/\.$/, '')}), but its rollback failed: ${undone.error}; the change is still in place`,
        { ...verdictDetail, rollback: ddlDetail(undone) },
        'critical',
      )
      return failed
    }
    const rolledBack = await this.#actions.transition(
      action.id,
      ['verifying'],
      'rolled_back',
      { stateReason: verdict.reason, measuredBenefitMs: verdict.measuredBenefitMs, verdict: verdictDetail },
      [],
    )
    await this.#recordVerdict(action, 'rolled_back', verdict.reason, verdict)
    if (rolledBack)
      this.#publishFinding(
        'action.rolled_back',
        'warning',
        `Rolled back ${action.key}: ${verdict.reason}`,
        rolledBack,
        verdictDetail,
      )
    return { ok: false, reason: `Rolled back: ${verdict.reason}`, ...(rolledBack ? { action: rolledBack } : {}) }
  }

  /** The rollback DDL, audited before and after, with what a failed concurrent statement left invalid dropped. */
  async #runRollback(action: ActionRecord, ddl: pg.PoolClient, actor: string): Promise<DdlResult> {
    await this.#actions.audit(action.id, {
      actor,
      event: 'rollback.start',
      sql: action.rollback.sql,
      outcome: 'started',
    })
    const result = await applyDdl(ddl, action.relation, action.rollback, this.#ddl)
    await this.#actions.audit(action.id, {
      actor,
      event: 'rollback.end',
      sql: action.rollback.sql,
      outcome: result.ok ? 'ok' : 'error',
      detail: ddlDetail(result),
    })
    if (!result.ok) await this.#cleanup(action, ddl, actor, result.leftoverInvalid)
    return result
  }

  /** Drops invalid indexes a failed concurrent statement left; returns those dropped. */
  async #cleanup(action: ActionRecord, ddl: pg.PoolClient, actor: string, names: readonly string[]): Promise<string[]> {
    const dropped: string[] = []
    for (const name of names) {
      const statement = dropInvalidIndexStatement(name)
      await this.#actions.audit(action.id, { actor, event: 'cleanup.start', sql: statement.sql, outcome: 'started' })
      const result = await applyDdl(ddl, action.relation, statement, this.#ddl)
      await this.#actions.audit(action.id, {
        actor,
        event: 'cleanup.end',
        sql: statement.sql,
        outcome: result.ok ? 'ok' : 'error',
        detail: ddlDetail(result),
      })
      if (result.ok) dropped.push(name)
    }
    return dropped
  }

  async #rollbackKept(id: string, actor: string, reason?: string): Promise<ActionOutcome> {
    const action = await this.#actions.get(id)
    if (action?.state !== 'kept') return this.#wrongState(id, 'rolled back', ['kept'])
    const ddl = await this.#pool.connect()
    let locked = false
    try {
      locked = await lockRelation(ddl, action.relation)
      if (!locked)
        return { ok: false, reason: `Another change on ${action.relation} is in progress; try again after it.`, action }
      const result = await this.#runRollback(action, ddl, actor)
      if (!result.ok)
        return {
          ok: false,
          reason: sentence(`The rollback of action #${id} failed: ${result.error}; it is still kept`),
          action,
        }
      const why = sentence(`Rolled back by ${actor}${reason ? `: ${reason}` : ''}`)
      const rolledBack = await this.#actions.transition(id, ['kept'], 'rolled_back', { stateReason: why }, [])
      await this.#recordVerdict(action, 'rolled_back', why, null)
      if (rolledBack)
        this.#publishFinding('action.rolled_back', 'info', `Rolled back ${action.key}: ${why}`, rolledBack)
      return { ok: true, reason: why, ...(rolledBack ? { action: rolledBack } : {}) }
    } finally {
      if (locked) await unlockRelation(ddl, action.relation).catch(() => {})
      ddl.release(true)
    }
  }

  /**
   * Ends an action whose change was interrupted: drops the invalid indexes its
   * DDL left (those not invalid before it started), undoes the change if its
   * DDL had started, and marks it failed with `cause`.
   */
  async #recover(action: ActionRecord, ddl: pg.PoolClient, cause: string): Promise<ActionOutcome> {
    const actor = 'actuator'
    const start = (await this.#actions.auditTrail(action.id)).find((e) => e.event === 'apply.start')
    if (!start)
      return this.#fail(action, ['applying', 'verifying'], actor, `${cause} before its DDL ran; nothing was changed`, {
        recovered: true,
      })
    const before = new Set((start.detail.invalidBefore as string[] | undefined) ?? [])
    const leftover = (await invalidIndexes(ddl, action.relation)).filter((n) => !before.has(n))
    const dropped = await this.#cleanup(action, ddl, actor, leftover)
    const undone = await this.#runRollback(action, ddl, actor)
    // 42704 (undefined_object): the change never got in place, so there was nothing to undo.
    const reason =
      undone.ok || undone.sqlstate === '42704'
        ? `${cause}; ${undone.ok ? 'the change was undone' : 'the change was not in place'}${dropped.length > 0 ? `, and the invalid index ${dropped.join(', ')} it left was dropped` : ''}`
        : `${cause}, and its rollback failed: ${undone.error}; the change may still be in place`
    return this.#fail(
      action,
      ['applying', 'verifying'],
      actor,
      reason,
      { recovered: true },
      undone.ok || undone.sqlstate === '42704' ? 'warning' : 'critical',
    )
  }

  async #fail(
    action: ActionRecord,
    from: readonly ActionState[],
    actor: string,
    why: string,
    detail: Record<string, unknown>,
    severity: Severity = 'warning',
  ): Promise<ActionOutcome> {
    const reason = sentence(why[0]?.toUpperCase() + why.slice(1))
    const failed = await this.#actions.transition(action.id, from, 'failed', { stateReason: reason, verdict: detail }, [
      { actor, event: 'failed', outcome: 'error', detail: { reason } },
    ])
    await this.#recordVerdict(action, 'failed', reason, null)
    if (failed) this.#publishFinding('action.failed', severity, `${action.key} failed: ${reason}`, failed, detail)
    return { ok: false, reason: `Failed: ${reason}`, ...(failed ? { action: failed } : {}) }
  }

  async #recordVerdict(
    action: ActionRecord,
    verdict: ActionVerdict['verdict'],
    reason: string,
    measured: VerificationVerdict | null,
  ): Promise<void> {
    await this.#verdicts.record({
      key: action.key,
      actionId: action.id,
      kind: action.kind,
      relation: action.relation,
      verdict,
      reason,
      predictedBenefitMs: action.predictedBenefitMs ?? null,
      measuredBenefitMs: measured?.measuredBenefitMs ?? null,
      weightedRatio: measured?.weightedRatio ?? null,
      details: measured
        ? {
            improvement: measured.improvement,
            interval: measured.interval,
            fingerprints: measured.fingerprints.map((f) => ({
              fingerprint: f.fingerprint,
              ratio: f.ratio,
              medianBeforeMs: f.medianBeforeMs,
              medianAfterMs: f.medianAfterMs,
              regressed: f.regressed,
            })),
          }
        : {},
    })
  }

  #minImprovementFor(kind: string): number {
    const m = this.#minImprovement
    return typeof m === 'number' ? m : (m[kind] ?? 0.05)
  }

  #judge(input: JudgeVerificationInput): Promise<VerificationVerdict> {
    const judge = this.#attachment?.judge
    return judge ? judge(input) : Promise.resolve(judgeVerification(input))
  }

  #publishFinding(
    kind: string,
    severity: Severity,
    reason: string,
    action: ActionRecord,
    extra: Record<string, unknown> = {},
  ): void {
    const finding: AgentFinding = {
      kind,
      severity,
      reason,
      evidence: {
        actionId: action.id,
        key: action.key,
        actionKind: action.kind,
        relation: action.relation,
        state: action.state,
        source: action.source,
        affectedFingerprints: action.affectedFingerprints,
        ...extra,
      },
      ...(action.predictedBenefitMs === undefined ? {} : { predictedBenefitMs: action.predictedBenefitMs }),
    }
    if (this.#attachment) {
      this.#attachment.publish(finding)
      return
    }
    // No agent context (the CLI): the finding goes straight to the findings table.
    void this.#pool
      .query(
        `INSERT INTO cairn_meta.findings (id, at, kind, source, reason, severity, evidence, predicted_benefit_ms)
         VALUES ($1, now(), $2, $3, $4, $5, $6, $7)`,
        [
          randomUUID(),
          finding.kind,
          this.#name,
          finding.reason,
          finding.severity,
          JSON.stringify(finding.evidence),
          finding.predictedBenefitMs ?? null,
        ],
      )
      .catch((err: unknown) => this.#log?.warn({ err }, 'could not store an action finding'))
  }
}

function invalidProposal(a: ProposedAction): string | undefined {
  const missing = (['kind', 'key', 'relation', 'reason', 'source'] as const).filter(
    (f) => typeof a[f] !== 'string' || a[f].trim() === '',
  )
  if (missing.length > 0) return `A proposal needs ${missing.join(', ')}.`
  if (typeof a.apply?.sql !== 'string' || a.apply.sql.trim() === '') return 'A proposal needs its apply SQL.'
  if (typeof a.rollback?.sql !== 'string' || a.rollback.sql.trim() === '') return 'A proposal needs its rollback SQL.'
  if (!Array.isArray(a.affectedFingerprints)) return 'A proposal needs its affected fingerprints.'
  if (a.sizeBytes !== undefined && !(a.sizeBytes >= 0)) return 'A proposal size must be a number of bytes >= 0.'
  return undefined
}

function ddlDetail(r: DdlResult): Record<string, unknown> {
  return {
    durationMs: Math.round(r.durationMs * 10) / 10,
    ...(r.error ? { error: r.error } : {}),
    ...(r.sqlstate ? { sqlstate: r.sqlstate } : {}),
    created: r.created,
    leftoverInvalid: r.leftoverInvalid,
  }
}

function phaseDetail(baseline: Baseline, phase: PhaseMeasurement): Record<string, unknown> {
  return {
    statements: baseline.statements.length,
    passes: phase.passes,
    durationMs: Math.round(phase.durationMs),
    unmeasured: baseline.unmeasured,
  }
}
