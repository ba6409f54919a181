import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/**
 * The one Prometheus registry every package registers into, served at
 * `/metrics`. Metric names follow Prometheus conventions with a `cairn_` prefix.
 */
export const metricsRegistry = new Registry()
collectDefaultMetrics({ register: metricsRegistry, prefix: 'cairn_' })

type Config<T extends string> = { name: `cairn_${string}`; help: string; labelNames?: readonly T[] }

/** Returns the registered metric of that name, creating it on first use (so reloading a module is harmless). */
export function counter<T extends string = string>(config: Config<T>): Counter<T> {
  return (
    (metricsRegistry.getSingleMetric(config.name) as Counter<T> | undefined) ??
    new Counter<T>({ ...config, registers: [metricsRegistry] })
  )
}

export function gauge<T extends string = string>(config: Config<T>): Gauge<T> {
  return (
    (metricsRegistry.getSingleMetric(config.name) as Gauge<T> | undefined) ??
    new Gauge<T>({ ...config, registers: [metricsRegistry] })
  )
}

export function histogram<T extends string = string>(config: Config<T> & { buckets?: number[] }): Histogram<T> {
  return (
    (metricsRegistry.getSingleMetric(config.name) as Histogram<T> | undefined) ??
    new Histogram<T>({ ...config, registers: [metricsRegistry] })
  )
}
