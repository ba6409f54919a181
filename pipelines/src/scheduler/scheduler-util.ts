/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** The delay before retry number `tryNo` (the try that just failed): `base * 2^(tryNo-1)`, capped. */
export function retryDelay(tryNo: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** (tryNo - 1), maxMs)
}

/** `850 ms`, `12.3 s`, `4.0 min`, `2.5 h`. */
export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}

/** Text PostgreSQL can store: no NUL characters. */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err))
}

export function errorDetail(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : errorMessage(err)
}
