import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDiskstats, parseLoadavg, parseMeminfo, parseProcStat, readHostCounters } from './host-counters.js'
import { hostRates } from './host-rates.js'

const stat = `cpu  100 10 50 800 40 0 5 0 0 0
cpu0 50 5 25 400 20 0 3 0 0 0
cpu1 50 5 25 400 20 0 2 0 0 0
intr 12345
ctxt 999
`
const meminfo = `MemTotal:        8000000 kB
MemFree:         1000000 kB
MemAvailable:    6000000 kB
Buffers:          100000 kB
`
// major minor name reads merged sectors-read ms writes merged sectors-written ...
const diskstats = `   7       0 loop0 10 0 800 0 0 0 0 0 0 0 0
 253       0 vda 100 0 2000 10 50 0 4000 20 0 30 30
 253       1 vda1 90 0 1800 10 50 0 4000 20 0 30 30
 252       0 dm-0 80 0 1600 10 40 0 3000 20 0 30 30
`

describe('host counters from /proc', () => {
  it('reads busy, iowait and total ticks of all cores from the aggregate cpu line', () => {
    expect(parseProcStat(stat)).toEqual({ busy: 165, iowait: 40, total: 1005, count: 2 })
  })

  it('takes MemAvailable, or MemFree + Buffers + Cached on kernels without it', () => {
    expect(parseMeminfo(meminfo)).toEqual({ totalBytes: 8_000_000 * 1024, availableBytes: 6_000_000 * 1024 })
    expect(parseMeminfo('MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n')).toEqual({
      totalBytes: 102_400,
      availableBytes: 35 * 1024,
    })
  })

  it('counts 512-byte sectors of the disks it is told are whole', () => {
    expect(parseDiskstats(diskstats, (n) => n === 'vda')).toEqual({
      readBytes: 2000 * 512,
      writeBytes: 4000 * 512,
      count: 1,
    })
  })

  it('reads the three load averages', () => {
    expect(parseLoadavg('0.52 0.58 0.59 1/467 12345\n')).toEqual([0.52, 0.58, 0.59])
  })

  describe('from a directory laid out as /proc and /sys', () => {
    let root: string
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'cairn-proc-'))
      await mkdir(join(root, 'proc'))
      await writeFile(join(root, 'proc', 'stat'), stat)
      await writeFile(join(root, 'proc', 'meminfo'), meminfo)
      await writeFile(join(root, 'proc', 'diskstats'), diskstats)
      await writeFile(join(root, 'proc', 'loadavg'), '1.5 1.0 0.5 2/300 42\n')
      // Only vda has a backing device: loop0 and dm-0 are virtual, vda1 a partition (not in /sys/block).
      await mkdir(join(root, 'sys', 'block', 'vda', 'device'), { recursive: true })
      await mkdir(join(root, 'sys', 'block', 'loop0'), { recursive: true })
      await mkdir(join(root, 'sys', 'block', 'dm-0'), { recursive: true })
    })
    afterAll(() => rm(root, { recursive: true, force: true }))

    it('counts whole disks only: not partitions, loop or device-mapper devices', async () => {
      const c = await readHostCounters({ procDir: join(root, 'proc'), sysDir: join(root, 'sys') })
      expect(c.disks).toEqual({ readBytes: 2000 * 512, writeBytes: 4000 * 512, count: 1 })
      expect(c.load).toEqual([1.5, 1.0, 0.5])
      expect(c.cpu.count).toBe(2)
    })

    it('tells whole disks by name when /sys is not mounted', async () => {
      const c = await readHostCounters({ procDir: join(root, 'proc'), sysDir: join(root, 'no-sys') })
      expect(c.disks.count).toBe(1)
      expect(c.disks.readBytes).toBe(2000 * 512)
    })

    it('fails with ENOENT when there is no /proc', async () => {
      await expect(readHostCounters({ procDir: join(root, 'nowhere') })).rejects.toMatchObject({ code: 'ENOENT' })
    })
  })
})

describe('hostRates', () => {
  const reading = (at: number, busy: number, total: number, read: number, written: number) => ({
    at,
    cpu: { busy, iowait: 0, total, count: 4 },
    memory: { totalBytes: 1000, availableBytes: 400 },
    disks: { readBytes: read, writeBytes: written, count: 1 },
    load: [1, 2, 3] as const,
  })

  it('turns two readings into shares and rates over the interval', () => {
    const s = hostRates(reading(0, 100, 1000, 0, 0), reading(2000, 350, 2000, 4096, 8192), 'db1')
    expect(s).toMatchObject({
      host: 'db1',
      intervalSeconds: 2,
      cpuPercent: 25,
      cpuCount: 4,
      memUsedBytes: 600,
      memTotalBytes: 1000,
      diskReadBytesPerS: 2048,
      diskWriteBytesPerS: 4096,
      load1: 1,
    })
  })

  it('never goes negative when a disk goes away, and has no disk rates without disks', () => {
    const gone = hostRates(reading(0, 0, 0, 5000, 5000), reading(1000, 0, 0, 100, 100), 'db1')
    expect(gone.diskReadBytesPerS).toBe(0)
    expect(gone.cpuPercent).toBe(0)
    const none = { ...reading(1000, 0, 0, 0, 0), disks: { readBytes: 0, writeBytes: 0, count: 0 } }
    expect(hostRates(reading(0, 0, 0, 0, 0), none, 'db1').diskReadBytesPerS).toBeNull()
  })
})
