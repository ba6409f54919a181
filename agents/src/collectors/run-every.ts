import { setTimeout as sleep } from 'node:timers/promises'

export interface RunEveryOptions {
  /** Run once right away, before the first interval. Default false. */
  immediately?: boolean
}

/**
 * Calls `tick` every `intervalMs` until `signal` aborts, one call at a time: a
 * tick that overruns the interval skips the ticks it missed rather than
 * piling them up. `tick` handles its own errors. Resolves when the loop ends,
 * after the tick in flight.
 */
export async function runEvery(
  intervalMs: number,
  signal: AbortSignal,
  tick: () => Promise<void>,
  { immediately = false }: RunEveryOptions = {},
): Promise<void> {
  if (immediately && !signal.aborted) await tick()
  let next = Date.now() + intervalMs
  while (!signal.aborted) {
    try {
      // Unreferenced: a collector's timer alone does not keep the process alive.
      await sleep(Math.max(0, next - Date.now()), undefined, { signal, ref: false })
    } catch {
      return
    }
    await tick()
    next += intervalMs
    if (next <= Date.now()) next = Date.now() + intervalMs
  }
}
