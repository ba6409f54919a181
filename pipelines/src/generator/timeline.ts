import { type DirtKind, dirtKinds } from './generator-options.js'
import type { RawRecord } from './raw-record.js'

/**
 * How the emitter treats a record's dirt: `draw` draws a kind with the rates, `clean` keeps it clean
 * (e.g. the newer version an out-of-order record trails), a kind is already decided and applied.
 */
export type DirtDecision = DirtKind | 'clean' | 'draw'

const decisions: readonly DirtDecision[] = ['draw', 'clean', ...dirtKinds]
const decisionCodes = new Map<DirtDecision, number>(decisions.map((d, i) => [d, i]))

/**
 * Receives the scheduled records in emission order. With `variant` 0 `record` is the record itself;
 * otherwise the scheduler stored a shared template that the visitor completes with `variant` and the
 * time `at` (an order version: its status and `updated_at`), so that records far ahead stay small.
 */
export type PendingVisitor = (
  entity: number,
  record: RawRecord,
  dirt: DirtDecision,
  final: boolean,
  variant: number,
  at: number,
) => void

/** Flag bits kept below the emission time in a key: entity | final << 3 | decision << 4 | variant << 8. */
const FLAG_RANGE = 2048

/**
 * One hour's (or far day's) scheduled records, as parallel arrays (no object per record). A drained
 * bucket is reused: its arrays keep their capacity, `size` says how much of them is in use.
 */
class Bucket {
  size = 0
  /** Emission time (ms) × 2048 + flags: exact in a double for times before 2109. */
  readonly keys: number[] = []
  readonly records: (RawRecord | undefined)[] = []

  add(key: number, record: RawRecord): void {
    this.keys[this.size] = key
    this.records[this.size] = record
    this.size++
  }

  /** Forgets the records (so they can be collected) and empties the bucket. */
  clear(): void {
    this.records.fill(undefined, 0, this.size)
    this.size = 0
  }
}

const HOUR = 3_600_000

/**
 * Records scheduled for later: one bucket per hour for today and tomorrow, one per day further ahead
 * (spread over its hours when the day before starts). Buckets are drained (and forgotten) hour by
 * hour, so memory holds only what is still ahead: order updates, returns, refunds, delayed customers.
 * Records scheduled at or after the end of the timeline are dropped: the data ends there. Draining
 * hour by hour, right after the next hour's orders are created, keeps the records short-lived (cheap
 * for the garbage collector).
 */
export class Timeline {
  private readonly buckets: (Bucket | undefined)[]
  /** Records of days from `nearDays` on, per day (not yet in hour buckets). */
  private readonly far: (Bucket | undefined)[]
  private nearDays = 1
  private readonly slots: number
  private open = 0
  /** Counting sort by second of the hour: the bucket's first index of each second, then the order. */
  private readonly starts = new Int32Array(3601)
  private order = new Int32Array(1024)
  private seconds = new Int32Array(1024)
  /** Drained buckets, emptied, for reuse. */
  private readonly spare: Bucket[] = []

  constructor(
    private readonly startMs: number,
    readonly days: number,
  ) {
    this.slots = days * 24
    this.buckets = new Array<Bucket | undefined>(this.slots)
    this.far = new Array<Bucket | undefined>(days + 1)
  }

  /** The end of the timeline (exclusive), ms. */
  get endMs(): number {
    return this.startMs + this.days * 86_400_000
  }

  /**
   * Schedules a record for emission at `at` (records are emitted by `at`, then in scheduling order; a
   * time in an hour already drained counts as the first hour still open). False, and dropped, when
   * `at` is past the end. `final` marks an order's last version.
   */
  schedule(at: number, entity: number, record: RawRecord, dirt: DirtDecision = 'draw', final = false): boolean {
    return this.scheduleVariant(at, entity, record, 0, dirt, final)
  }

  /** Schedules a template record with a variant (1–7) that the visitor completes (with `at`). */
  scheduleVariant(
    at: number,
    entity: number,
    template: RawRecord,
    variant: number,
    dirt: DirtDecision = 'draw',
    final = false,
  ): boolean {
    const slot = Math.max(this.open, Math.floor((at - this.startMs) / HOUR))
    if (slot >= this.slots) return false
    const code = dirt === 'draw' ? 0 : (decisionCodes.get(dirt) as number)
    const key = at * FLAG_RANGE + (entity | (final ? 8 : 0) | (code << 4) | (variant << 8))
    const day = Math.floor(slot / 24)
    if (day >= this.nearDays) {
      // Far ahead: kept per day, spread over the hours the day before it starts.
      let far = this.far[day]
      if (!far) {
        far = new Bucket()
        this.far[day] = far
      }
      far.add(key, template)
      return true
    }
    this.bucket(slot, key, template)
    return true
  }

  private bucket(slot: number, key: number, record: RawRecord): void {
    let bucket = this.buckets[slot]
    if (!bucket) {
      bucket = this.spare.pop() ?? new Bucket()
      this.buckets[slot] = bucket
    }
    bucket.add(key, record)
  }

  /** Moves the far-ahead records of `day` into its hour buckets (called when the day before starts). */
  private spread(day: number): void {
    this.nearDays = day + 1
    const far = this.far[day]
    if (!far) return
    this.far[day] = undefined
    const dayStart = this.startMs + day * 86_400_000
    for (let i = 0; i < far.size; i++) {
      const key = far.keys[i] as number
      const hour = Math.min(23, Math.max(0, Math.floor((Math.floor(key / FLAG_RANGE) - dayStart) / HOUR)))
      this.bucket(day * 24 + hour, key, far.records[i] as RawRecord)
    }
  }

  /**
   * Visits the records of hour `slot` (hours since the start) in emission order and forgets them;
   * the hour is then closed for scheduling. The order is by second of `at`, then by scheduling order
   * (a stable counting sort): a record scheduled 1 ms after another in the same second must also be
   * scheduled after it.
   */
  drain(slot: number, visit: PendingVisitor): void {
    this.open = slot + 1
    if (slot % 24 === 0) this.spread(slot / 24 + 1)
    const bucket = this.buckets[slot]
    if (!bucket) return
    this.buckets[slot] = undefined
    const n = bucket.size
    const slotStart = this.startMs + slot * HOUR
    const starts = this.starts
    starts.fill(0)
    if (this.order.length < n) {
      this.order = new Int32Array(n * 2)
      this.seconds = new Int32Array(n * 2)
    }
    const order = this.order
    const seconds = this.seconds
    const keys = bucket.keys
    for (let i = 0; i < n; i++) {
      const ms = Math.floor((keys[i] as number) / FLAG_RANGE) - slotStart
      const second = ms <= 0 ? 0 : ms >= 3_599_000 ? 3599 : Math.floor(ms / 1000)
      seconds[i] = second
      starts[second + 1] = (starts[second + 1] as number) + 1
    }
    for (let s = 1; s <= 3600; s++) starts[s] = (starts[s] as number) + (starts[s - 1] as number)
    for (let i = 0; i < n; i++) {
      const second = seconds[i] as number
      const position = starts[second] as number
      order[position] = i
      starts[second] = position + 1
    }
    for (let k = 0; k < n; k++) {
      const i = order[k] as number
      const key = keys[i] as number
      const at = Math.floor(key / FLAG_RANGE)
      const flags = key - at * FLAG_RANGE
      visit(
        flags & 7,
        bucket.records[i] as RawRecord,
        decisions[(flags >> 4) & 15] as DirtDecision,
        (flags & 8) !== 0,
        flags >> 8,
        at,
      )
    }
    bucket.clear()
    if (this.spare.length < 4) this.spare.push(bucket)
  }
}
