/**
 * Builds one message: `new MessageWriter().int32(3).cstring('x').frame(0x52)`.
 * The length is filled in by `frame()`.
 */
export class MessageWriter {
  #buf = Buffer.allocUnsafe(256)
  #len = 0

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n))
    this.#buf.copy(next, 0, 0, this.#len)
    this.#buf = next
  }

  byte(v: number): this {
    this.#ensure(1)
    this.#buf[this.#len++] = v
    return this
  }

  int16(v: number): this {
    this.#ensure(2)
    this.#buf.writeInt16BE(v, this.#len)
    this.#len += 2
    return this
  }

  int32(v: number): this {
    this.#ensure(4)
    this.#buf.writeInt32BE(v, this.#len)
    this.#len += 4
    return this
  }

  cstring(s: string): this {
    const n = Buffer.byteLength(s)
    this.#ensure(n + 1)
    this.#buf.write(s, this.#len)
    this.#len += n
    this.#buf[this.#len++] = 0
    return this
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length)
    this.#buf.set(b, this.#len)
    this.#len += b.length
    return this
  }

  /** The message with a type byte (omit it for startup-phase messages, which have none). */
  frame(type?: number): Buffer {
    const head = type === undefined ? 4 : 5
    const out = Buffer.allocUnsafe(head + this.#len)
    if (type !== undefined) out[0] = type
    out.writeInt32BE(4 + this.#len, head - 4)
    this.#buf.copy(out, head, 0, this.#len)
    return out
  }
}
