import { type Agent, defineAgent } from '@cairn/plugins'
import { AnomalyDetector, type AnomalyDetectorOptions } from './anomaly-detector.js'

export interface AnomalyDetectorAgentOptions extends AnomalyDetectorOptions {
  /**
   * How long after an interval ends it is closed, milliseconds: statements are
   * reported when they complete, so a slow one arrives after its interval ended.
   * Default 5 s, at most the interval.
   */
  lateMs?: number
  /** How often the timer looks for intervals to close. Default a quarter of the interval, between 50 ms and 5 s. */
  tickMs?: number
}

/**
 * The anomaly detector: per (fingerprint, interval) features, an isolation
 * forest with a sanity gate, threshold rules, and explanations. `onResult` only
 * accumulates; a timer started in `start` closes intervals, scores, explains and
 * publishes `anomaly`, `anomaly.rule` and one `anomaly.summary` per interval
 * boundary, until `ctx.signal` aborts.
 */
export function useAnomalyDetector(options: AnomalyDetectorAgentOptions = {}): Agent {
  const { intervalMs = 60_000, lateMs = 5_000, tickMs, ...detectorOptions } = options
  const late = Math.min(lateMs, intervalMs)
  const tick = tickMs ?? Math.max(50, Math.min(5_000, intervalMs / 4))
  let detector: AnomalyDetector | null = null
  return defineAgent({
    meta: {
      name: 'anomaly-detector',
      version: '1.0.0',
      description:
        'Finds statements slower, failing or busier than usual, and database conditions past plain thresholds',
    },
    start(ctx) {
      const current = new AnomalyDetector(
        { db: ctx.db, workers: ctx.workers, log: ctx.log },
        { ...detectorOptions, intervalMs },
      )
      detector = current
      const timer = async () => {
        while (!ctx.signal.aborted) {
          await sleep(tick, ctx.signal)
          if (ctx.signal.aborted) break
          try {
            const findings = await current.evaluate(Date.now() - late)
            // A stop during the evaluation: what it found belongs to a context that is gone.
            if (ctx.signal.aborted) break
            for (const f of findings) ctx.publish(f)
          } catch (err) {
            ctx.log.warn({ err }, 'anomaly evaluation failed')
          }
        }
      }
      void timer()
      return () => {
        if (detector === current) detector = null
      }
    },
    onResult(event) {
      detector?.observe(event)
    },
  })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
