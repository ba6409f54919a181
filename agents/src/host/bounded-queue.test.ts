import { describe, expect, it } from 'vitest'
import { BoundedQueue } from './bounded-queue.js'

describe('BoundedQueue', () => {
  it('is first in, first out, and drops the oldest when full', () => {
    const q = new BoundedQueue<number>(3)
    expect([q.push(1), q.push(2), q.push(3)]).toEqual([false, false, false])
    expect(q.push(4)).toBe(true)
    expect(q.shift()).toBe(2)
    q.push(5)
    q.push(6)
    expect(q.length).toBe(3)
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([4, 5, 6, undefined])
    expect(q.length).toBe(0)
  })

  it('wraps around many times and empties on clear', () => {
    const q = new BoundedQueue<number>(4)
    const out: number[] = []
    for (let i = 0; i < 100; i++) {
      q.push(i)
      if (i % 3 === 0) out.push(q.shift() as number)
    }
    expect(out.every((v, i) => i === 0 || v > (out[i - 1] as number))).toBe(true)
    // The last of the 100 pushes (99) was followed by a shift: one short of full.
    expect(q.length).toBe(3)
    q.clear()
    expect(q.shift()).toBeUndefined()
  })
})
