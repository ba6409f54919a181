import { hostname } from 'node:os'
import type pg from 'pg'
import type { Collector, CollectorAvailability } from './collector.js'
import { type HostCounterSources, type HostCounters, readHostCounters } from './host-counters.js'
import { type HostSample, hostRates } from './host-rates.js'

export interface HostCollectorOptions extends HostCounterSources {
  /** Writable: the samples go to `cairn_meta.host_samples`. */
  pool: pg.Pool
  /** Written in each row's `host`. Default `os.hostname()`. */
  host?: string
}

/**
 * Samples the resources of the host Cairn runs on from Linux's /proc: CPU
 * busy share over all cores, memory used (MemTotal - MemAvailable), whole-disk
 * bytes read and written per second, load average. The first reading is the
 * baseline the first interval's rates start from.
 */
export class HostCollector implements Collector {
  readonly name = 'host'
  readonly #host: string
  #availability: CollectorAvailability = { collecting: false, reason: '/proc has not been read yet' }
  #previous: HostCounters | undefined

  constructor(private readonly options: HostCollectorOptions) {
    this.#host = options.host ?? hostname()
  }

  get availability(): CollectorAvailability {
    return this.#availability
  }

  async sample(): Promise<number> {
    let counters: HostCounters
    try {
      counters = await readHostCounters(this.options)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err
      this.#availability = {
        collecting: false,
        reason: `host resources are not collected: they are read from Linux's /proc, and ${(err as { path?: string }).path ?? '/proc'} is not there`,
      }
      return 0
    }
    this.#availability = {
      collecting: true,
      reason:
        counters.disks.count > 0
          ? `host resources of "${this.#host}" are collected from /proc (CPU, memory, ${counters.disks.count} whole disk(s), load)`
          : `host resources of "${this.#host}" are collected from /proc (CPU, memory, load); no whole disk is visible, so disk rates are not`,
    }
    const previous = this.#previous
    if (!previous || counters.at <= previous.at) {
      this.#previous ??= counters
      return 0
    }
    await writeHostSample(this.options.pool, hostRates(previous, counters, this.#host))
    this.#previous = counters
    return 1
  }
}

async function writeHostSample(pool: pg.Pool, s: HostSample): Promise<void> {
  await pool.query(
    `INSERT INTO cairn_meta.host_samples (at, cpu_percent, mem_used_bytes, mem_total_bytes, disk_read_bytes_per_s,
       disk_write_bytes_per_s, load1, host, load5, load15, cpu_count, cpu_iowait_percent, interval_seconds)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      s.at,
      s.cpuPercent,
      s.memUsedBytes,
      s.memTotalBytes,
      s.diskReadBytesPerS,
      s.diskWriteBytesPerS,
      s.load1,
      s.host,
      s.load5,
      s.load15,
      s.cpuCount,
      s.cpuIowaitPercent,
      s.intervalSeconds,
    ],
  )
}
