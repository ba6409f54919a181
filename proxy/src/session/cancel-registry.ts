/** Anything that can be cancelled by its (pid, key) pair. */
export interface Cancellable {
  readonly cancelPid: number
  readonly cancelKey: number
  cancel(): void
}

/**
 * Maps the BackendKeyData the proxy gave each client to that client, so a
 * CancelRequest reaches the server connection running *its* query, never another's.
 */
export class CancelRegistry {
  readonly #byPid = new Map<number, Cancellable>()

  register(c: Cancellable): void {
    this.#byPid.set(c.cancelPid, c)
  }

  unregister(c: Cancellable): void {
    if (this.#byPid.get(c.cancelPid) === c) this.#byPid.delete(c.cancelPid)
  }

  /** True when a session matched both pid and key. */
  cancel(pid: number, key: number): boolean {
    const c = this.#byPid.get(pid)
    if (!c || c.cancelKey !== key) return false
    c.cancel()
    return true
  }
}
