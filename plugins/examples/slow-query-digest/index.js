// An example third-party agent, written as a user would: plain JavaScript, the SDK as a peer
// dependency, options from its own environment variables. Load it with
//   CAIRN_AGENT_MODULES=./plugins/examples/slow-query-digest npm start
import { defineAgent } from '@cairn/plugins'

/**
 * Every `intervalMs`, publishes the fingerprints that cost the most proxy time
 * in the window, with their calls and p95, or says that nothing ran.
 * @param {{ intervalMs?: number, top?: number }} [options]
 */
export function useSlowQueryDigest({
  intervalMs = Number(process.env.SLOW_QUERY_DIGEST_INTERVAL_MS ?? 60_000),
  top = Number(process.env.SLOW_QUERY_DIGEST_TOP ?? 5),
} = {}) {
  /** @type {Map<string, { text: string, durations: number[] }>} */
  let window = new Map()
  return defineAgent({
    meta: { name: 'slow-query-digest', version: '1.0.0', description: 'Top statements by total time, per interval' },
    onResult(event) {
      if (event.cache === 'hit') return
      const entry = window.get(event.fingerprint) ?? { text: event.normalizedText, durations: [] }
      entry.durations.push(event.durationMs)
      window.set(event.fingerprint, entry)
    },
    start(ctx) {
      const timer = setInterval(() => {
        const closed = window
        window = new Map()
        const ranked = [...closed.entries()]
          .map(([fingerprint, { text, durations }]) => {
            const sorted = [...durations].sort((a, b) => a - b)
            const totalMs = sorted.reduce((s, d) => s + d, 0)
            const p95Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]
            return { fingerprint, text: text.slice(0, 200), calls: sorted.length, totalMs, p95Ms }
          })
          .sort((a, b) => b.totalMs - a.totalMs)
          .slice(0, top)
        const first = ranked[0]
        ctx.publish({
          kind: 'digest.slow-queries',
          severity: 'info',
          reason: first
            ? `${first.fingerprint} cost the most time in the last ${Math.round(intervalMs / 1000)} s: ${first.calls} calls, ${first.totalMs.toFixed(1)} ms in total, p95 ${first.p95Ms.toFixed(1)} ms`
            : `no statements ran in the last ${Math.round(intervalMs / 1000)} s`,
          evidence: { intervalMs, top: ranked },
        })
      }, intervalMs)
      return () => clearInterval(timer)
    },
  })
}

export default useSlowQueryDigest
