/** Bytes as pg_size_pretty writes them (1024-based): `8192 bytes`, `64 kB`, `4.4 MB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0
    ? `${Math.round(value)} bytes`
    : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** A duration for a sentence: `450 ms`, `12.3 s`, `2.1 min`, `1.5 h`, `8.0 days`. */
export function formatMs(ms: number): string {
  const abs = Math.abs(ms)
  if (abs < 1) return `${ms.toFixed(2)} ms`
  if (abs < 1_000) return `${Math.round(ms)} ms`
  if (abs < 60_000) return `${(ms / 1_000).toFixed(1)} s`
  if (abs < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`
  if (abs < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`
  return `${(ms / 86_400_000).toFixed(1)} days`
}

/** A share as a whole percentage with a space, `3 %`; below 1 % with one decimal. */
export function formatPercent(share: number): string {
  const pct = share * 100
  return `${Math.abs(pct) < 1 && pct !== 0 ? pct.toFixed(1) : Math.round(pct)} %`
}

/** A count with thousands separators: `1,930`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** How many times cheaper: `40×`, `2.5×`. */
export function formatFactor(factor: number): string {
  return `${factor >= 10 ? Math.round(factor) : factor.toFixed(1)}×`
}
