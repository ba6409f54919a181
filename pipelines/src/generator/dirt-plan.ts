import { extraFields, renamedFields, wrongTypeFields } from './dirt-fields.js'
import { type DirtKind, dirtKinds, type EntityName, entityNames } from './generator-options.js'
import type { Random } from './random.js'
import { ORDERS } from './raw-record.js'

/** Whether a kind may be drawn for an entity's records when they are emitted. */
function eligible(kind: DirtKind, entity: EntityName): boolean {
  switch (kind) {
    case 'out_of_order_update':
    case 'orphan':
      return false // decided when the records are created
    case 'late':
      return entity !== 'customers' && entity !== 'products'
    case 'wrong_type':
      return (wrongTypeFields[entity]?.length ?? 0) > 0
    case 'negative_quantity':
      return entity === 'order_items' || entity === 'returns'
    case 'unknown_currency':
      return entity === 'orders' || entity === 'payments'
    case 'schema_drift_extra':
      return extraFields[entity] !== undefined
    case 'schema_drift_renamed':
      return renamedFields[entity] !== undefined
    default:
      return true
  }
}

/**
 * Draws the dirt kind of a record when it is emitted: one random number against the cumulative rates
 * of the kinds eligible for its entity. At most one kind per record by construction.
 */
export class DirtPlan {
  private readonly kinds: DirtKind[][]
  private readonly cumulative: number[][]
  /** The sum of the eligible rates per entity: a draw at or above it is a clean record. */
  private readonly totals: number[]

  constructor(rates: Readonly<Record<DirtKind, number>>) {
    this.kinds = entityNames.map((entity) => dirtKinds.filter((k) => eligible(k, entity) && rates[k] > 0))
    this.cumulative = this.kinds.map((kinds) => {
      let sum = 0
      return kinds.map((k) => {
        sum += rates[k]
        return sum
      })
    })
    this.totals = this.cumulative.map((c) => c[c.length - 1] ?? 0)
  }

  /**
   * The kind for a record of the entity (index), or null for a clean one. On orders `late` applies only
   * to an order's last version (`final`).
   */
  draw(entity: number, final: boolean, random: Random): DirtKind | null {
    const total = this.totals[entity] as number
    if (total === 0) return null
    const u = random.next()
    if (u >= total) return null
    const cumulative = this.cumulative[entity] as number[]
    for (let i = 0; i < cumulative.length; i++) {
      if (u < (cumulative[i] as number)) {
        const kind = (this.kinds[entity] as DirtKind[])[i] as DirtKind
        return kind === 'late' && entity === ORDERS && !final ? null : kind
      }
    }
    return null
  }
}
