import { HEADER_LENGTH } from './message-codes.js'

/** One message: its type byte and the whole frame (type, length and body) as a view. */
export interface Frame {
  readonly type: number
  /** The full frame, header included, ready to forward as-is. */
  readonly bytes: Buffer
}

export class FrameTooLargeError extends Error {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(`message of ${length} bytes exceeds the limit of ${limit} bytes`)
  }
}

export class InvalidFrameLengthError extends Error {
  constructor(readonly length: number) {
    super(`invalid message length ${length}`)
  }
}

/**
 * Splits a byte stream into typed frames without copying when a chunk holds
 * whole messages (the usual case); keeps a partial frame until the rest arrives.
 * Frames are views into buffers that are never written again.
 */
export class FrameReader {
  #pending: Buffer | undefined

  constructor(private readonly maxLength: number) {}

  /** The frames completed by `chunk`, in order. Throws on a length below 4 or above the limit. */
  push(chunk: Buffer): Frame[] {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = undefined
    const frames: Frame[] = []
    let offset = 0
    while (buf.length - offset >= HEADER_LENGTH) {
      const length = buf.readInt32BE(offset + 1)
      if (length < 4) throw new InvalidFrameLengthError(length)
      if (length > this.maxLength) throw new FrameTooLargeError(length, this.maxLength)
      const end = offset + 1 + length
      if (end > buf.length) break
      frames.push({ type: buf[offset] as number, bytes: buf.subarray(offset, end) })
      offset = end
    }
    if (offset < buf.length) this.#pending = buf.subarray(offset)
    return frames
  }

  /** Bytes held back as an incomplete frame. */
  get pendingBytes(): number {
    return this.#pending?.length ?? 0
  }
}
