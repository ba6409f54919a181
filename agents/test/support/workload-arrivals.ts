import { prng } from './workload-ecommerce.js'

/**
 * Arrivals per bucket with a daily rhythm (quiet at night, a peak in the
 * afternoon), a weekday/weekend difference and Poisson-like noise, built
 * deterministically from `seed`. `bucketsPerDay` sets the season length.
 */
export function diurnalArrivals(options: {
  days: number
  bucketsPerDay: number
  peak: number
  seed: number
}): number[] {
  const r = prng(options.seed)
  const normal = () => {
    // Box–Muller from the seeded generator.
    const u = Math.max(1e-12, r())
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
  }
  const out: number[] = []
  for (let t = 0; t < options.days * options.bucketsPerDay; t++) {
    const phase = (t % options.bucketsPerDay) / options.bucketsPerDay
    const weekday = Math.floor(t / options.bucketsPerDay) % 7 < 5 ? 1 : 0.75
    // One broad peak at about 15:00, never below a fifth of it at night.
    const shape = 0.2 + 0.8 * Math.exp(-(((phase - 0.62) / 0.18) ** 2))
    const rate = options.peak * weekday * shape
    out.push(Math.max(0, Math.round(rate + Math.sqrt(rate) * normal())))
  }
  return out
}
