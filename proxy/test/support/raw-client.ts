import { connect, type Socket } from 'node:net'

/** A socket that collects what the server sends, for tests that speak the protocol by hand. */
export class RawClient {
  readonly socket: Socket
  received = Buffer.alloc(0)
  closed: Promise<void>

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d])
    })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()))
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  write(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b)
  }

  /** Waits until the received bytes satisfy `test`, or the socket closes, or time runs out. */
  async until(test: (b: Buffer) => boolean, timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!test(this.received)) {
      if (this.socket.destroyed || Date.now() > deadline) return test(this.received)
      await new Promise((r) => setTimeout(r, 5))
    }
    return true
  }

  /** Typed messages received so far: [type char, body]. */
  messages(): [string, Buffer][] {
    const out: [string, Buffer][] = []
    let o = 0
    const b = this.received
    while (b.length - o >= 5) {
      const len = b.readInt32BE(o + 1)
      if (b.length < o + 1 + len) break
      out.push([String.fromCharCode(b[o] as number), b.subarray(o + 5, o + 1 + len)])
      o += 1 + len
    }
    return out
  }

  /** SQLSTATE of the first ErrorResponse received, if any. */
  errorCode(): string | undefined {
    const e = this.messages().find(([t]) => t === 'E')
    if (!e) return undefined
    const fields = e[1].toString('utf8').split('\0')
    return fields.find((f) => f.startsWith('C'))?.slice(1)
  }

  close(): void {
    this.socket.destroy()
  }
}

export function startupMessage(params: Record<string, string>, version = 196_608): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]),
    Buffer.from([0]),
  ])
  const head = Buffer.alloc(8)
  head.writeInt32BE(8 + body.length, 0)
  head.writeInt32BE(version, 4)
  return Buffer.concat([head, body])
}

/** A typed frontend message. */
export function message(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body
  const head = Buffer.alloc(5)
  head[0] = type.charCodeAt(0)
  head.writeInt32BE(4 + b.length, 1)
  return Buffer.concat([head, b])
}
