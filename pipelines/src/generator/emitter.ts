import type { ChunkSink } from './chunk-sink.js'
import type { CustomerBase } from './customer-base.js'
import { applyDirt, nearDuplicate } from './dirt-mutations.js'
import type { DirtPlan } from './dirt-plan.js'
import type { DirtKind } from './generator-options.js'
import type { Random } from './random.js'
import { CLICKSTREAM, CUSTOMERS, entityName, PAYMENTS, type RawRecord, RETURNS } from './raw-record.js'
import type { DirtDecision } from './timeline.js'

/** A record held back for a later day. */
interface Held {
  readonly entity: number
  readonly record: RawRecord
  readonly kind: DirtKind
  /** The entity's chunk sequence when held: a late record must land in a later chunk. */
  readonly chunkSeq: number
  readonly late: boolean
}

/**
 * Emits records in timeline order into the chunk sink: assigns the ids given at emission (payment_id,
 * return_id, event_id, so they grow with time), activates customers whose record appears, and injects
 * dirt. Duplicates, near duplicates and late records are held back and released at the end of a later
 * day (clamped to the last day).
 */
export class Emitter {
  private readonly held: (Held[] | undefined)[]
  private payments = 0
  private returns = 0
  private events = 0

  constructor(
    private readonly sink: ChunkSink,
    private readonly plan: DirtPlan,
    private readonly random: Random,
    private readonly customers: CustomerBase,
    private readonly days: number,
  ) {
    this.held = new Array<Held[] | undefined>(days)
  }

  /** Emits one record on `day`, with its dirt decided by `decision` (see {@link DirtDecision}). */
  emit(entity: number, record: RawRecord, decision: DirtDecision, final: boolean, day: number): void {
    if (entity === CLICKSTREAM) record.event_id = `e${(++this.events).toString(36)}`
    else if (entity === PAYMENTS) record.payment_id = ++this.payments
    else if (entity === RETURNS) record.return_id = ++this.returns
    else if (entity === CUSTOMERS) this.customers.activate(record.customer_id as number)

    const kind =
      decision === 'draw' ? this.plan.draw(entity, final, this.random) : decision === 'clean' ? null : decision
    switch (kind) {
      case null:
        this.sink.add(entity, record, null)
        return
      case 'duplicate':
        this.sink.add(entity, record, null)
        this.hold(day + this.random.int(4), entity, { ...record }, kind, false)
        return
      case 'near_duplicate':
        this.sink.add(entity, record, null)
        this.hold(day + this.random.int(2), entity, nearDuplicate(entityName(entity), record, this.random), kind, false)
        return
      case 'late':
        this.hold(day + this.random.intBetween(2, 14), entity, record, kind, true)
        return
      default:
        this.sink.add(entity, applyDirt(kind, entityName(entity), record, this.random), kind)
    }
  }

  /** Emits the records held for `day`. */
  release(day: number): void {
    const held = this.held[day]
    if (!held) return
    this.held[day] = undefined
    for (const h of held) {
      if (h.late && this.sink.chunkSeq[h.entity] === h.chunkSeq) this.sink.flush(h.entity)
      this.sink.add(h.entity, h.record, h.kind)
    }
  }

  private hold(day: number, entity: number, record: RawRecord, kind: DirtKind, late: boolean): void {
    const d = Math.min(day, this.days - 1)
    let list = this.held[d]
    if (!list) {
      list = []
      this.held[d] = list
    }
    list.push({ entity, record, kind, chunkSeq: this.sink.chunkSeq[entity] as number, late })
  }
}
