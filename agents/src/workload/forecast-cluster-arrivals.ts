import { type ArrivalForecast, forecastArrivals } from './forecast-arrivals.js'

export interface ForecastClusterArrivalsInput {
  /** Arrivals per complete bucket of each cluster, oldest first, all the same length. */
  readonly clusters: readonly { readonly id: number; readonly counts: readonly number[] }[]
  readonly horizons: readonly number[]
  readonly seasonLength: number
  readonly holdoutFraction: number
}

/** Worker task: the arrival forecast of every cluster. */
export function forecastClusterArrivals(
  input: ForecastClusterArrivalsInput,
): { id: number; forecast: ArrivalForecast }[] {
  return input.clusters.map((c) => ({
    id: c.id,
    forecast: forecastArrivals(c.counts, {
      horizons: input.horizons,
      seasonLength: input.seasonLength,
      holdoutFraction: input.holdoutFraction,
    }),
  }))
}
