import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Cumulative host counters and gauges as Linux exposes them in /proc, at one moment. */
export interface HostCounters {
  /** When read, milliseconds since the epoch. */
  readonly at: number
  /** Clock ticks summed over all cores since boot. */
  readonly cpu: { readonly busy: number; readonly iowait: number; readonly total: number; readonly count: number }
  readonly memory: { readonly totalBytes: number; readonly availableBytes: number }
  /** Bytes read and written since boot, summed over whole disks; `count` 0 when none is visible. */
  readonly disks: { readonly readBytes: number; readonly writeBytes: number; readonly count: number }
  readonly load: readonly [number, number, number]
}

export interface HostCounterSources {
  /** Default `/proc`. */
  procDir?: string
  /** Default `/sys`; tells whole disks from partitions and virtual devices. */
  sysDir?: string
}

// /proc/diskstats counts sectors of 512 bytes whatever the device's real sector size.
const DISKSTATS_SECTOR_BYTES = 512
// Whole disks by name, for when /sys is not mounted: sda, vda, xvda, hda, nvme0n1, mmcblk0.
const WHOLE_DISK_NAME = /^(?:[shv]d[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/

/** Reads /proc/stat, /proc/meminfo, /proc/diskstats and /proc/loadavg. Throws when /proc is not there. */
export async function readHostCounters(sources: HostCounterSources = {}): Promise<HostCounters> {
  const { procDir = '/proc', sysDir = '/sys' } = sources
  const read = (file: string) => readFile(join(procDir, file), 'utf8')
  const [stat, meminfo, diskstats, loadavg] = await Promise.all([
    read('stat'),
    read('meminfo'),
    // Some sandboxes have no diskstats: no disk rates then, the rest still.
    read('diskstats').catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 'ENOENT') return ''
      throw err
    }),
    read('loadavg'),
  ])
  const whole = await wholeDisks(diskNames(diskstats), sysDir)
  return {
    at: Date.now(),
    cpu: parseProcStat(stat),
    memory: parseMeminfo(meminfo),
    disks: parseDiskstats(diskstats, (n) => whole.has(n)),
    load: parseLoadavg(loadavg),
  }
}

/** The aggregate `cpu` line of /proc/stat: busy is everything but idle and iowait (guest time is inside user). */
export function parseProcStat(text: string): HostCounters['cpu'] {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l))
  if (!line) throw new Error('/proc/stat has no aggregate cpu line')
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const total = user + nice + system + idle + iowait + irq + softirq + steal
  const count = text.split('\n').filter((l) => /^cpu\d+\s/.test(l)).length
  return { busy: total - idle - iowait, iowait, total, count: Math.max(1, count) }
}

/** MemTotal and MemAvailable (kB in the file); before Linux 3.14, available is MemFree + Buffers + Cached. */
export function parseMeminfo(text: string): HostCounters['memory'] {
  const kb = new Map<string, number>()
  for (const m of text.matchAll(/^(\w+):\s+(\d+)/gm)) kb.set(m[1] as string, Number(m[2]))
  const total = kb.get('MemTotal')
  if (total === undefined) throw new Error('/proc/meminfo has no MemTotal')
  const available =
    kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0)
  return { totalBytes: total * 1024, availableBytes: Math.min(total, available) * 1024 }
}

/** Sectors read (field 6) and written (field 10) of the devices `isWholeDisk` accepts, in bytes. */
export function parseDiskstats(text: string, isWholeDisk: (name: string) => boolean): HostCounters['disks'] {
  let readBytes = 0
  let writeBytes = 0
  let count = 0
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10 || !isWholeDisk(f[2] as string)) continue
    readBytes += Number(f[5]) * DISKSTATS_SECTOR_BYTES
    writeBytes += Number(f[9]) * DISKSTATS_SECTOR_BYTES
    count++
  }
  return { readBytes, writeBytes, count }
}

export function parseLoadavg(text: string): HostCounters['load'] {
  const [a = 0, b = 0, c = 0] = text.trim().split(/\s+/).slice(0, 3).map(Number)
  return [a, b, c]
}

function diskNames(diskstats: string): string[] {
  return diskstats
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[2])
    .filter((n): n is string => n !== undefined && n !== '')
}

/**
 * A whole disk has a backing device under /sys/block; partitions are not in
 * /sys/block, and loop, ram, zram, device-mapper and md devices have no
 * `device` link (counting them would count the same bytes twice).
 */
async function wholeDisks(names: readonly string[], sysDir: string): Promise<Set<string>> {
  if (!(await exists(join(sysDir, 'block')))) return new Set(names.filter((n) => WHOLE_DISK_NAME.test(n)))
  const backed = await Promise.all(names.map((n) => exists(join(sysDir, 'block', n.replaceAll('/', '!'), 'device'))))
  return new Set(names.filter((_, i) => backed[i]))
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
