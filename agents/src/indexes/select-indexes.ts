import pg from 'pg'
import type { CostedStatement } from './analyzed-workload.js'
import { formatBytes, formatMs, formatPercent } from './format-quantity.js'
import type { CandidateRejection, IndexCandidate } from './index-candidates.js'
import { describeIndex, extendsIndex, type IndexDefinition, indexKey, qualifiedTable } from './index-definition.js'
import type { StatementCost, WhatIfCosting } from './what-if-costing.js'

export interface SelectIndexesOptions {
  /** Bytes Cairn's indexes may take together. */
  readonly budgetBytes: number
  /** Bytes Cairn's existing indexes already take. Default 0. */
  readonly ownedBytes?: number
  /** Least share of the cost of the statements a step changes that it must save. Default 0.1. */
  readonly minImprovement?: number
  /** Least workload time a step must save, ms per hour, after the upkeep of the index. Default 1,000. */
  readonly minBenefitMsPerHour?: number
  /** Upkeep of one B-tree per row written, ms (BRIN costs a tenth). Default 0.02. */
  readonly indexWriteMs?: number
  /** Most indexes chosen. Default 10. */
  readonly maxIndexes?: number
  /** Most key columns a widening reaches. Default 3. */
  readonly maxKeyColumns?: number
  /** Candidates not to choose, with the reason (past verdicts). */
  readonly excluded?: Readonly<Record<string, string>>
  /** The search stops taking steps once this many EXPLAINs have run (a very large workload). Default 20,000. */
  readonly maxExplains?: number
}

export interface SelectionInput {
  readonly statements: readonly CostedStatement[]
  readonly candidates: readonly IndexCandidate[]
  readonly columnsByTable: Readonly<Record<string, readonly string[]>>
  readonly writesPerHour: Readonly<Record<string, number>>
}

/** One statement's cost before and after an index, as its recommendation shows it. */
export interface StatementEffect {
  readonly statementId: number
  readonly fingerprint: string
  readonly before: number
  readonly after: number
  /** Milliseconds per hour it stands for, measured. */
  readonly weightMs: number
  readonly callsPerHour: number
}

export interface SelectedIndex {
  readonly candidate: IndexCandidate
  readonly sizeBytes: number
  /** Workload time saved, ms per hour, by this index on top of the others chosen (before upkeep). */
  readonly savedMsPerHour: number
  /** Estimated upkeep on writes, ms per hour. */
  readonly upkeepMsPerHour: number
  readonly writesPerHour: number
  /** The statements it makes cheaper, with the others chosen in place either way. */
  readonly effects: readonly StatementEffect[]
  /** How the greedy search got to it, e.g. `added (customer_id)`, `widened by status`. */
  readonly steps: readonly string[]
}

export interface SelectionStep {
  readonly round: number
  readonly action: 'add' | 'widen'
  readonly key: string
  readonly from?: string
  readonly savedMsPerHour: number
  readonly netMsPerHour: number
  readonly addedBytes: number
}

export interface IndexSelection {
  readonly chosen: readonly SelectedIndex[]
  readonly rejected: readonly CandidateRejection[]
  readonly steps: readonly SelectionStep[]
  /** Statements whose cost could be estimated, and the workload time they stand for (ms/h). */
  readonly costedStatements: number
  readonly costedMsPerHour: number
  readonly budgetBytes: number
  /** What Cairn's indexes take with the chosen ones built. */
  readonly usedBytes: number
}

interface Step {
  readonly action: 'add' | 'widen'
  readonly candidate: IndexCandidate
  readonly from?: IndexCandidate
}

interface Evaluation {
  readonly step: Step
  readonly costs: Map<number, StatementCost | null>
  readonly savedMs: number
  readonly netMs: number
  readonly relative: number
  readonly addedBytes: number
  readonly changed: number
  /** Why it cannot be taken; undefined when it can. */
  readonly refusal?: string
}

/**
 * Chooses indexes under a storage budget, greedily in the spirit of Extend
 * (Schlosser et al. 2019): from an empty configuration, each round takes the
 * step with the most workload time saved per byte among adding a
 * single-column candidate (plain, partial, covering or BRIN) and widening a
 * chosen index by one column or into a candidate that extends it, re-costing with HypoPG,
 * until no step saves enough or the budget is spent. A statement counts with
 * its template's time per hour; an index's upkeep on the writes to its table
 * is subtracted from what it saves.
 */
export async function selectIndexes(
  input: SelectionInput,
  costing: WhatIfCosting,
  {
    budgetBytes,
    ownedBytes = 0,
    minImprovement = 0.1,
    minBenefitMsPerHour = 1_000,
    indexWriteMs = 0.02,
    maxIndexes = 10,
    maxKeyColumns = 3,
    excluded = {},
    maxExplains = 20_000,
  }: SelectIndexesOptions,
): Promise<IndexSelection> {
  const rejected = new Map<string, CandidateRejection>()
  const reject = (c: IndexCandidate, reason: string) =>
    rejected.set(c.key, { key: c.key, definition: c.definition, reason })

  const base = await costing.costs(input.statements, [])
  const statements = input.statements.filter((s) => {
    const cost = base.get(s.id)
    return cost != null && cost.total > 0
  })
  const baseCost = (id: number) => (base.get(id) as StatementCost).total
  const current = new Map(statements.map((s) => [s.id, baseCost(s.id)]))

  // Sizes first: a candidate HypoPG cannot simulate is out before the search.
  const sizes = new Map<string, number>()
  const sizeOf = async (c: IndexCandidate): Promise<number | undefined> => {
    if (sizes.has(c.key)) return sizes.get(c.key)
    try {
      const bytes = await costing.sizeOf(c.definition)
      sizes.set(c.key, bytes)
      return bytes
    } catch (err) {
      reject(c, `HypoPG could not simulate it: ${(err as Error).message}`)
      return undefined
    }
  }
  const pool: IndexCandidate[] = []
  for (const c of input.candidates) {
    const verdict = excluded[c.key]
    if (verdict) reject(c, verdict)
    else if ((await sizeOf(c)) !== undefined) pool.push(c)
  }

  const on = (table: string) => statements.filter((s) => s.tables.includes(table))
  const upkeepFactor = (d: IndexDefinition) => (d.method === 'brin' ? 0.1 : 1)
  const upkeep = (d: IndexDefinition) => (input.writesPerHour[qualifiedTable(d)] ?? 0) * indexWriteMs * upkeepFactor(d)

  let chosen: IndexCandidate[] = []
  const history = new Map<string, string[]>()
  const taken: SelectionStep[] = []
  const firstRound = new Map<string, Evaluation>()
  const lastRound = new Map<string, Evaluation>()
  let usedBytes = ownedBytes

  const evaluate = async (step: Step): Promise<Evaluation> => {
    const table = qualifiedTable(step.candidate.definition)
    const config = [...chosen.filter((c) => c.key !== step.from?.key), step.candidate].map((c) => c.definition)
    const affected = on(table)
    const costs = await costing.costs(affected, config)
    let savedMs = 0
    let changedMs = 0
    let changed = 0
    for (const s of affected) {
      const after = costs.get(s.id)?.total
      const before = current.get(s.id) as number
      if (after === undefined || Math.abs(before - after) <= before * 1e-9) continue
      changed++
      savedMs += (s.weightMs * (before - after)) / baseCost(s.id)
      changedMs += (s.weightMs * before) / baseCost(s.id)
    }
    const upkeepMs = upkeep(step.candidate.definition) - (step.from ? upkeep(step.from.definition) : 0)
    const netMs = savedMs - upkeepMs
    const relative = changedMs > 0 ? savedMs / changedMs : 0
    const addedBytes = (sizes.get(step.candidate.key) ?? 0) - (step.from ? (sizes.get(step.from.key) ?? 0) : 0)
    const used = affected.some((s) => costs.get(s.id)?.used.includes(step.candidate.key))
    let refusal: string | undefined
    if (!used) refusal = 'the planner would use it for none of the statements on the table'
    else if (savedMs <= 0) refusal = 'it makes no statement cheaper'
    else if (relative < minImprovement)
      refusal = `it saves only ${formatPercent(relative)} of the cost of the ${changed} statement(s) it would change (the minimum is ${formatPercent(minImprovement)})`
    else if (netMs <= 0)
      refusal = `its upkeep on ${Math.round(input.writesPerHour[table] ?? 0).toLocaleString('en-US')} writes/h (~${formatMs(upkeepMs)}/h) outweighs the ${formatMs(savedMs)}/h it saves`
    else if (netMs < minBenefitMsPerHour)
      refusal = `it saves only ${formatMs(netMs)} per hour of workload time (the minimum is ${formatMs(minBenefitMsPerHour)})`
    else if (usedBytes + addedBytes > budgetBytes)
      refusal = `it exceeds the storage budget: it needs ${formatBytes(addedBytes)}, and ${formatBytes(Math.max(0, budgetBytes - usedBytes))} of ${formatBytes(budgetBytes)} is left${
        ownedBytes > 0 ? ` (Cairn's existing indexes take ${formatBytes(ownedBytes)})` : ''
      }`
    return { step, costs, savedMs, netMs, relative, addedBytes, changed, refusal }
  }

  const widenings = (from: IndexCandidate): IndexCandidate[] => {
    const d = from.definition
    if (d.method !== 'btree') return []
    const out = new Map<string, IndexCandidate>()
    for (const c of pool) if (c.key !== from.key && extendsIndex(c.definition, d)) out.set(c.key, c)
    if (d.keys.length < maxKeyColumns) {
      for (const column of input.columnsByTable[qualifiedTable(d)] ?? []) {
        if (d.keys.includes(column) || d.predicate?.startsWith(`${pg.escapeIdentifier(column)} `)) continue
        const definition: IndexDefinition = {
          ...d,
          keys: [...d.keys, column],
          include: d.include.filter((c) => c !== column),
        }
        const key = indexKey(definition)
        if (!out.has(key) && !excluded[key])
          out.set(
            key,
            pool.find((c) => c.key === key) ?? { key, definition, origin: 'widened', fingerprints: from.fingerprints },
          )
      }
    }
    return [...out.values()]
  }

  const contribution = async (c: IndexCandidate): Promise<SelectedIndex> => {
    const table = qualifiedTable(c.definition)
    const affected = on(table)
    const without = await costing.costs(
      affected,
      chosen.filter((x) => x.key !== c.key).map((x) => x.definition),
    )
    const effects: StatementEffect[] = []
    let savedMs = 0
    for (const s of affected) {
      const before = without.get(s.id)?.total
      const after = current.get(s.id) as number
      if (before === undefined || !(after < before * (1 - 1e-9))) continue
      savedMs += (s.weightMs * (before - after)) / baseCost(s.id)
      effects.push({
        statementId: s.id,
        fingerprint: s.fingerprint,
        before,
        after,
        weightMs: s.weightMs,
        callsPerHour: s.callsPerHour,
      })
    }
    return {
      candidate: c,
      sizeBytes: sizes.get(c.key) ?? 0,
      savedMsPerHour: savedMs,
      upkeepMsPerHour: upkeep(c.definition),
      writesPerHour: input.writesPerHour[table] ?? 0,
      effects,
      steps: history.get(c.key) ?? [],
    }
  }

  let stoppedEarly: string | undefined
  for (let round = 1; chosen.length < maxIndexes; round++) {
    if (costing.explains >= maxExplains) {
      stoppedEarly = `the search stopped after ${costing.explains.toLocaleString('en-US')} EXPLAINs (the limit is ${maxExplains.toLocaleString('en-US')})`
      break
    }
    const steps: Step[] = []
    const chosenKeys = new Set(chosen.map((c) => c.key))
    for (const c of pool) {
      if (!chosenKeys.has(c.key) && c.definition.keys.length === 1) steps.push({ action: 'add', candidate: c })
    }
    for (const from of chosen) {
      for (const candidate of widenings(from)) {
        if (chosenKeys.has(candidate.key)) continue
        if ((await sizeOf(candidate)) === undefined) continue
        steps.push({ action: 'widen', candidate, from })
      }
    }
    let best: Evaluation | undefined
    for (const step of steps) {
      const e = await evaluate(step)
      if (round === 1) firstRound.set(step.candidate.key, e)
      lastRound.set(step.candidate.key, e)
      if (e.refusal) continue
      if (!best || ratio(e) > ratio(best) || (ratio(e) === ratio(best) && e.netMs > best.netMs)) best = e
    }
    if (!best) break
    const { step } = best
    chosen = [...chosen.filter((c) => c.key !== step.from?.key), step.candidate]
    usedBytes += best.addedBytes
    for (const [id, cost] of best.costs) if (cost) current.set(id, cost.total)
    const trail = step.from ? (history.get(step.from.key) ?? []) : []
    history.set(step.candidate.key, [
      ...trail,
      step.action === 'add'
        ? `added ${describeIndex(step.candidate.definition)}`
        : `widened ${describeIndex((step.from as IndexCandidate).definition)} into ${describeIndex(step.candidate.definition)}`,
    ])
    taken.push({
      round,
      action: step.action,
      key: step.candidate.key,
      ...(step.from ? { from: step.from.key } : {}),
      savedMsPerHour: best.savedMs,
      netMsPerHour: best.netMs,
      addedBytes: best.addedBytes,
    })
  }

  // Each chosen index's own contribution: the configuration with it against the configuration without it. One
  // chosen early may have been made redundant by one chosen later (a B-tree after a BRIN on the same column):
  // the one that adds least goes, and the others are weighed again.
  let selected: SelectedIndex[] = []
  for (;;) {
    selected = []
    for (const c of chosen) selected.push(await contribution(c))
    const weakest = selected
      .map((s) => ({ s, net: s.savedMsPerHour - s.upkeepMsPerHour }))
      .filter(({ net }) => net <= 0 || net < minBenefitMsPerHour)
      .sort((a, b) => a.net - b.net)[0]
    if (!weakest) break
    const c = weakest.s.candidate
    chosen = chosen.filter((x) => x.key !== c.key)
    usedBytes -= weakest.s.sizeBytes
    const table = qualifiedTable(c.definition)
    const others = chosen.filter((x) => qualifiedTable(x.definition) === table)
    const costs = await costing.costs(
      on(table),
      chosen.map((x) => x.definition),
    )
    for (const [id, cost] of costs) if (cost) current.set(id, cost.total)
    reject(
      c,
      `chosen first, then made redundant by ${others.map((x) => describeIndex(x.definition)).join(' and ') || 'the indexes chosen after it'}: on top of them it saves only ${formatMs(weakest.net)} per hour`,
    )
  }

  // Everything not chosen says why, as of the last round it was weighed in.
  const chosenKeys = new Set(chosen.map((c) => c.key))
  const everChosen = new Set(taken.map((t) => t.key))
  for (const c of pool) {
    if (chosenKeys.has(c.key) || rejected.has(c.key)) continue
    const last = lastRound.get(c.key)
    const first = firstRound.get(c.key)
    const wider = chosen.find((x) => extendsIndex(x.definition, c.definition))
    if (wider && everChosen.has(c.key))
      reject(c, `the search widened it into ${describeIndex(wider.definition)}, which serves its statements too`)
    else if (wider) reject(c, `${describeIndex(wider.definition)}, chosen, answers its lookups too`)
    else if (!last) reject(c, stoppedEarly ? `${stoppedEarly} before weighing it` : neverWeighed(c, chosen))
    else if (last.refusal && first && !first.refusal && chosen.length > 0)
      reject(c, `with ${chosen.map((x) => describeIndex(x.definition)).join(' and ')} chosen, ${last.refusal}`)
    else if (last.refusal) reject(c, last.refusal)
    else reject(c, `${stoppedEarly ?? `the search stopped at ${maxIndexes} indexes`} before taking it`)
  }

  return {
    chosen: selected,
    rejected: [...rejected.values()],
    steps: taken,
    costedStatements: statements.length,
    costedMsPerHour: statements.reduce((sum, s) => sum + s.weightMs, 0),
    budgetBytes,
    usedBytes,
  }
}

function ratio(e: Evaluation): number {
  return e.addedBytes <= 0 ? Number.POSITIVE_INFINITY : e.netMs / e.addedBytes
}

function neverWeighed(c: IndexCandidate, chosen: readonly IndexCandidate[]): string {
  const lead = c.definition.keys[0]
  const leadChosen = chosen.some(
    (x) => qualifiedTable(x.definition) === qualifiedTable(c.definition) && x.definition.keys[0] === lead,
  )
  return leadChosen
    ? 'the search never reached it: widening the chosen index stopped paying before it'
    : `its leading column (${lead}) did not pay for an index of its own, so the search never widened anything into it`
}
