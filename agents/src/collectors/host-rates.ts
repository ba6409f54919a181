import type { HostCounters } from './host-counters.js'

/** One row of `cairn_meta.host_samples`: host resources over one interval. */
export interface HostSample {
  readonly at: Date
  readonly host: string
  readonly intervalSeconds: number
  /** Busy share of all cores' time over the interval, 0..100. */
  readonly cpuPercent: number
  readonly cpuIowaitPercent: number
  readonly cpuCount: number
  /** MemTotal - MemAvailable. */
  readonly memUsedBytes: number
  readonly memTotalBytes: number
  /** Over whole disks; null when no whole disk is visible (some containers). */
  readonly diskReadBytesPerS: number | null
  readonly diskWriteBytesPerS: number | null
  readonly load1: number
  readonly load5: number
  readonly load15: number
}

/** Rates and shares over the interval between two readings of the host counters. */
export function hostRates(previous: HostCounters, current: HostCounters, host: string): HostSample {
  const seconds = Math.max(0.001, (current.at - previous.at) / 1000)
  const ticks = current.cpu.total - previous.cpu.total
  const share = (delta: number) => (ticks > 0 ? Math.min(100, Math.max(0, (100 * delta) / ticks)) : 0)
  // A disk that went away between readings makes the sum go down: count no bytes rather than negative ones.
  const rate = (delta: number) => Math.max(0, delta) / seconds
  const disks = current.disks.count > 0
  return {
    at: new Date(current.at),
    host,
    intervalSeconds: seconds,
    cpuPercent: share(current.cpu.busy - previous.cpu.busy),
    cpuIowaitPercent: share(current.cpu.iowait - previous.cpu.iowait),
    cpuCount: current.cpu.count,
    memUsedBytes: current.memory.totalBytes - current.memory.availableBytes,
    memTotalBytes: current.memory.totalBytes,
    diskReadBytesPerS: disks ? rate(current.disks.readBytes - previous.disks.readBytes) : null,
    diskWriteBytesPerS: disks ? rate(current.disks.writeBytes - previous.disks.writeBytes) : null,
    load1: current.load[0],
    load5: current.load[1],
    load15: current.load[2],
  }
}
