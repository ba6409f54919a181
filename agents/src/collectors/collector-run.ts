import { counter, type Logger } from '@cairn/core'
import type pg from 'pg'
import type { Collector, CollectorAvailability } from './collector.js'
import { type CollectorStatus, saveCollectorStatus } from './collector-status.js'

export interface CollectorRunOptions {
  /** Writable: the status row goes to `cairn_meta.collector_status`. */
  pool: pg.Pool
  log: Logger
  /** The process, as the status says. */
  host: string
  intervalMs: number
  /** Called when what the collector can collect changes after its first sample (an extension installed or dropped). */
  onAvailabilityChange?: (status: CollectorStatus) => void
}

const samplesTotal = counter({
  name: 'cairn_collector_samples_total',
  help: 'Collector intervals sampled without an error',
  labelNames: ['collector'] as const,
})
const errorsTotal = counter({
  name: 'cairn_collector_errors_total',
  help: 'Collector intervals that failed (logged; the next interval goes on)',
  labelNames: ['collector'] as const,
})

/**
 * One collector on its interval: a failed sample is logged and counted and
 * the next one goes on; a change in what it can collect is logged once; its
 * status is kept in memory and in `cairn_meta.collector_status`.
 */
export class CollectorRun {
  #samples = 0
  #errors = 0
  #lastError: string | null = null
  #lastSampleAt: Date | null = null
  #announced: CollectorAvailability | undefined

  constructor(
    readonly collector: Collector,
    private readonly options: CollectorRunOptions,
  ) {}

  get status(): CollectorStatus {
    const { collecting, reason } = this.collector.availability
    return {
      collector: this.collector.name,
      host: this.options.host,
      collecting,
      reason,
      intervalMs: this.options.intervalMs,
      samples: this.#samples,
      errors: this.#errors,
      lastError: this.#lastError,
      lastSampleAt: this.#lastSampleAt,
      updatedAt: new Date(),
    }
  }

  /** Takes one sample; never throws. */
  async tick(): Promise<void> {
    const { log } = this.options
    const name = this.collector.name
    try {
      const rows = await this.collector.sample()
      if (this.collector.availability.collecting) {
        this.#samples++
        this.#lastSampleAt = new Date()
        samplesTotal.inc({ collector: name })
      }
      log.debug({ collector: name, rows }, `${name} collector: ${rows} row(s) written`)
    } catch (err) {
      this.#errors++
      this.#lastError = err instanceof Error ? err.message : String(err)
      errorsTotal.inc({ collector: name })
      log.warn({ err, collector: name }, `${name} collector: the sample failed; the next interval goes on`)
    }
    this.#announce()
    await saveCollectorStatus(this.options.pool, this.status).catch((err: unknown) =>
      log.debug({ err, collector: name }, `${name} collector: could not save its status`),
    )
  }

  /** Logs what the collector collects when that changes: once, not every interval. */
  #announce(): void {
    const now = this.collector.availability
    const before = this.#announced
    if (before && before.collecting === now.collecting && before.reason === now.reason) return
    // Before its first successful check a collector has nothing to say yet.
    if (!before && !now.collecting && this.#errors > 0) return
    this.#announced = now
    const { log } = this.options
    if (now.collecting) log.info({ collector: this.collector.name }, now.reason)
    else log.warn({ collector: this.collector.name }, now.reason)
    if (before) this.options.onAvailabilityChange?.(this.status)
  }
}
