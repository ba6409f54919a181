import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces: state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return undefined
  }
}

/** Busy and total CPU time of the whole machine, summed over all cores, from /proc/stat. */
function hostCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number)
  const values = [user, nice, system, idle, iowait, irq, softirq, steal].map((v) => v ?? 0)
  const total = values.reduce((a, b) => a + b, 0)
  return { busy: total - (idle ?? 0) - (iowait ?? 0), total }
}

/** CPU seconds used so far by all of these processes together; undefined when any of them is gone. */
function totalCpuSeconds(pids: readonly number[]): number | undefined {
  let total = 0
  for (const pid of pids) {
    const seconds = processCpuSeconds(pid)
    if (seconds === undefined) return undefined
    total += seconds
  }
  return total
}

/**
 * Measures, over a span, the CPU of some processes together (as % of one core:
 * over 100 when they use more than one) and of the whole machine (as % of all cores).
 */
export class CpuMeter {
  readonly #pids: readonly number[]
  readonly #startedAt = performance.now()
  readonly #processStart: number | undefined
  readonly #hostStart = hostCpu()

  /** No pids: only the machine is measured. */
  constructor(pids: readonly number[]) {
    this.#pids = [...pids]
    this.#processStart = pids.length === 0 ? undefined : totalCpuSeconds(pids)
  }

  stop(): { processPct: number | undefined; hostPct: number } {
    const elapsed = (performance.now() - this.#startedAt) / 1000
    const host = hostCpu()
    const hostPct = (100 * (host.busy - this.#hostStart.busy)) / Math.max(1, host.total - this.#hostStart.total)
    const end = this.#pids.length === 0 ? undefined : totalCpuSeconds(this.#pids)
    const processPct =
      end === undefined || this.#processStart === undefined || elapsed <= 0
        ? undefined
        : (100 * (end - this.#processStart)) / elapsed
    return { processPct, hostPct }
  }
}
