import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UsersFileStore } from '@cairn/proxy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { message, RawClient, startupMessage } from './support/raw-client.js'
import { sqlstateOf, startTestProxy, type TestProxy, withClient } from './support/test-proxy.js'

// Trust toward clients (the users file gives the proxy the password it needs upstream), so raw sockets can log in.
let t: TestProxy
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-users-'))
  writeFileSync(join(dir, 'users.json'), JSON.stringify({ cairn: 'cairn' }))
  t = await startTestProxy({
    auth: 'trust',
    credentials: new UsersFileStore(join(dir, 'users.json')),
    maxMessageBytes: 1024 * 1024,
    maxClients: 50,
  })
})
afterAll(async () => {
  await t?.close()
})

async function loggedIn(): Promise<RawClient> {
  const c = await RawClient.open(t.port)
  c.write(startupMessage({ user: 'cairn', database: t.db.name }))
  const ready = await c.until((b) => b.includes(Buffer.from('Z\0\0\0\x05I')))
  expect(ready).toBe(true)
  c.received = Buffer.alloc(0)
  return c
}

const stillServes = () =>
  withClient(t.url, async (c) => expect((await c.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]))

describe('bad input gets a real SQLSTATE and a close, for that client only', () => {
  it('answers SSLRequest and GSSENCRequest with N when TLS is not configured, then logs in', async () => {
    const c = await RawClient.open(t.port)
    const req = (code: number) => {
      const b = Buffer.alloc(8)
      b.writeInt32BE(8, 0)
      b.writeInt32BE(code, 4)
      return b
    }
    c.write(req(80877104))
    expect(await c.until((b) => b.length >= 1)).toBe(true)
    expect(c.received.toString()).toBe('N')
    c.write(req(80877103))
    expect(await c.until((b) => b.length >= 2)).toBe(true)
    expect(c.received.toString()).toBe('NN')
    c.received = Buffer.alloc(0)
    c.write(startupMessage({ user: 'cairn', database: t.db.name }))
    expect(await c.until((b) => b.includes(Buffer.from('Z\0\0\0\x05I')))).toBe(true)
    c.close()
  })

  it('refuses an invalid startup length with 08P01', async () => {
    const c = await RawClient.open(t.port)
    const b = Buffer.alloc(8)
    b.writeInt32BE(100_000, 0)
    b.writeInt32BE(196_608, 4)
    c.write(b)
    await c.closed
    expect(c.errorCode()).toBe('08P01')
  })

  it('refuses protocol 2.0 with 0A000 and a startup without user with 28000', async () => {
    const old = await RawClient.open(t.port)
    old.write(startupMessage({ user: 'cairn' }, 0x20000))
    await old.closed
    expect(old.errorCode()).toBe('0A000')
    const nobody = await RawClient.open(t.port)
    nobody.write(startupMessage({ database: 'x' }))
    await nobody.closed
    expect(nobody.errorCode()).toBe('28000')
  })

  it('closes on an unknown message type with 08P01', async () => {
    const c = await loggedIn()
    c.write(message('?', 'junk'))
    await c.closed
    expect(c.errorCode()).toBe('08P01')
    await stillServes()
  })

  it('closes on a length below 4 and on a message over the size limit', async () => {
    const short = await loggedIn()
    short.write(Buffer.from([0x51, 0, 0, 0, 2]))
    await short.closed
    expect(short.errorCode()).toBe('08P01')
    const big = await loggedIn()
    const head = Buffer.alloc(5)
    head[0] = 0x51
    head.writeInt32BE(2 * 1024 * 1024, 1)
    big.write(head)
    await big.closed
    expect(big.errorCode()).toBe('08P01')
    await stillServes()
  })

  it('answers Bind of an unknown statement with 26000, skips to Sync, and goes on', async () => {
    const c = await loggedIn()
    const bind = Buffer.concat([Buffer.from('\0nope\0'), Buffer.from([0, 0, 0, 0, 0, 0])])
    c.write(
      Buffer.concat([
        message('B', bind),
        message('E', Buffer.from('\0\0\0\0\0')),
        message('S'),
        message('Q', 'select 7\0'),
      ]),
    )
    expect(
      await c.until(
        (b) => b.includes(Buffer.from('7')) && b.lastIndexOf(Buffer.from('Z\0\0\0\x05I')) > b.indexOf(Buffer.from('7')),
      ),
    ).toBe(true)
    expect(c.errorCode()).toBe('26000')
    const types = c.messages().map(([type]) => type)
    expect(types).toEqual(['E', 'Z', 'T', 'D', 'C', 'Z'])
    c.close()
  })

  it('refuses clients beyond the limit with 53300', async () => {
    for (let i = 0; i < 200 && t.proxy.clientCount > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(t.proxy.clientCount).toBe(0)
    const held = await Promise.all(Array.from({ length: 50 }, () => RawClient.open(t.port)))
    for (let i = 0; i < 200 && t.proxy.clientCount < 50; i++) await new Promise((r) => setTimeout(r, 10))
    const extra = await RawClient.open(t.port)
    await extra.closed
    expect(extra.errorCode()).toBe('53300')
    for (const h of held) h.close()
    await new Promise((r) => setTimeout(r, 50))
    await stillServes()
  })

  it('md5 authentication works with a users file, and a wrong md5 password is 28P01', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-users-md5-'))
    writeFileSync(join(dir, 'users.json'), JSON.stringify({ cairn: 'cairn' }))
    const md5 = await startTestProxy({ auth: 'md5', credentials: new UsersFileStore(join(dir, 'users.json')) })
    try {
      await withClient(md5.url, async (c) =>
        expect((await c.query('select current_user as u')).rows).toEqual([{ u: 'cairn' }]),
      )
      const wrong = new URL(md5.url)
      wrong.password = 'nope'
      expect(await sqlstateOf(withClient(wrong.toString(), async () => {}))).toBe('28P01')
    } finally {
      await md5.close()
    }
  })
})

describe('fuzz', () => {
  it('survives 100,000 random and mutated frontend messages, then serves normal clients', async () => {
    let seed = 42
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff
      return seed % n
    }
    const valid = [
      message('Q', 'select 1\0'),
      message('Q', 'select * from pg_class limit 3\0'),
      message('P', 's1\0select $1::int\0\0\0'),
      message('B', Buffer.concat([Buffer.from('\0s1\0'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0x31, 0, 0])])),
      message('D', 'Ss1\0'),
      message('E', Buffer.from('\0\0\0\0\0')),
      message('C', 'Ss1\0'),
      message('S'),
      message('H'),
      message('d', 'abc'),
      message('c'),
      message('f', 'no\0'),
    ]
    // FunctionCall ('F') is left out: a random function OID could call anything.
    const types = 'QPBDECSHdcfX?Zp!'
    const generate = (): Buffer => {
      const kind = rand(3)
      if (kind === 0) return Buffer.from(Array.from({ length: 1 + rand(40) }, () => rand(256)))
      if (kind === 1) {
        const body = Buffer.from(Array.from({ length: rand(30) }, () => rand(256)))
        return message(types[rand(types.length)] as string, body)
      }
      const m = Buffer.from(valid[rand(valid.length)] as Buffer)
      for (let k = 0, flips = 1 + rand(3); k < flips; k++) m[rand(m.length)] = rand(256)
      return m
    }
    let sent = 0
    let connections = 0
    while (sent < 100_000) {
      const c = await loggedIn()
      connections++
      for (let burst = 0; burst < 10 && !c.socket.destroyed; burst++) {
        const batch = Array.from({ length: 25 }, generate)
        c.write(Buffer.concat(batch))
        sent += batch.length
        await new Promise((r) => setImmediate(r))
      }
      c.close()
    }
    expect(sent).toBeGreaterThanOrEqual(100_000)
    expect(connections).toBeGreaterThan(100)
    await new Promise((r) => setTimeout(r, 200))
    await stillServes()
    await Promise.all(Array.from({ length: 10 }, () => stillServes()))
    // Every fuzzed connection is gone from the proxy's books (sockets close asynchronously).
    for (let i = 0; i < 500 && t.proxy.clientCount > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(t.proxy.clientCount).toBe(0)
  }, 120_000)
})
