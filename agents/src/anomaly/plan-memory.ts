import type { PlanShape } from './plan-shape.js'

export interface RememberedPlan {
  /** Null when the statement could not be explained (no text, not DML, or EXPLAIN failed). */
  readonly shape: PlanShape | null
  /** When it was explained, epoch milliseconds. */
  readonly takenAt: number
}

/**
 * The plan shape each fingerprint had when its baseline formed, bounded in
 * count: the least recently used fingerprints are forgotten first.
 */
export class PlanMemory {
  readonly #plans = new Map<string, RememberedPlan>()

  constructor(readonly maxPlans = 500) {}

  get(fingerprint: string): RememberedPlan | undefined {
    const plan = this.#plans.get(fingerprint)
    if (plan) {
      this.#plans.delete(fingerprint)
      this.#plans.set(fingerprint, plan)
    }
    return plan
  }

  set(fingerprint: string, plan: RememberedPlan): void {
    this.#plans.delete(fingerprint)
    this.#plans.set(fingerprint, plan)
    while (this.#plans.size > this.maxPlans) {
      const oldest = this.#plans.keys().next().value
      if (oldest === undefined) break
      this.#plans.delete(oldest)
    }
  }

  get size(): number {
    return this.#plans.size
  }
}
