/** A rate limit: `ratePerSecond` tokens a second, up to `burst` saved; each take spends one. */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  #tokens: number
  #at: number

  constructor(ratePerSecond: number, burst = Math.max(1, ratePerSecond), now = Date.now()) {
    this.#rate = Math.max(0, ratePerSecond)
    this.#burst = Math.max(1, burst)
    this.#tokens = this.#burst
    this.#at = now
  }

  /** Spends a token when one is there. */
  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate)
    this.#at = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
