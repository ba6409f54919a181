import { describe, expect, it } from 'vitest'
import { FrameReader, FrameTooLargeError, InvalidFrameLengthError } from './frame-reader.js'

const frame = (type: string, body: string) => {
  const b = Buffer.from(body)
  const head = Buffer.alloc(5)
  head[0] = type.charCodeAt(0)
  head.writeInt32BE(4 + b.length, 1)
  return Buffer.concat([head, b])
}

describe('FrameReader', () => {
  const stream = Buffer.concat([frame('Q', 'select 1\0'), frame('S', ''), frame('P', 'stmt\0select $1\0\0\0')])

  it('returns whole frames, as views of the input, when a chunk holds them all', () => {
    const frames = new FrameReader(1024).push(stream)
    expect(frames.map((f) => String.fromCharCode(f.type))).toEqual(['Q', 'S', 'P'])
    expect(Buffer.concat(frames.map((f) => f.bytes))).toEqual(stream)
    expect(frames[0]?.bytes.buffer).toBe(stream.buffer)
  })

  it('reassembles frames split at every possible byte', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const r = new FrameReader(1024)
      const frames = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))]
      expect(Buffer.concat(frames.map((f) => f.bytes))).toEqual(stream)
      expect(r.pendingBytes).toBe(0)
    }
  })

  it('reassembles a stream fed one byte at a time', () => {
    const r = new FrameReader(1024)
    const frames = [...stream].flatMap((byte) => r.push(Buffer.from([byte])))
    expect(frames.map((f) => String.fromCharCode(f.type))).toEqual(['Q', 'S', 'P'])
  })

  it('refuses a length below 4 and one over the limit', () => {
    expect(() => new FrameReader(1024).push(Buffer.from([0x51, 0, 0, 0, 3]))).toThrow(InvalidFrameLengthError)
    expect(() => new FrameReader(16).push(frame('Q', 'x'.repeat(20)))).toThrow(FrameTooLargeError)
  })
})
