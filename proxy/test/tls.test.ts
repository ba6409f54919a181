import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestProxy, type TestProxy, withClient } from './support/test-proxy.js'
import { makeTlsFiles, type TlsFiles } from './support/tls-files.js'

let tls: TlsFiles
let t: TestProxy
beforeAll(async () => {
  tls = makeTlsFiles()
  t = await startTestProxy({ tls: { certFile: tls.certFile, keyFile: tls.keyFile } })
})
afterAll(async () => {
  await t?.close()
})

describe('TLS', () => {
  it('serves a verify-full client (CA checked, host name checked) over TLS with SCRAM', async () => {
    const url = new URL(t.url)
    url.hostname = 'localhost'
    await withClient(
      url.toString(),
      async (c) => {
        const r = await c.query('select 1 as one')
        expect(r.rows).toEqual([{ one: 1 }])
        const socket = (
          c as unknown as {
            connection: { stream: { encrypted?: boolean; getPeerCertificate(): { subject: { CN: string } } } }
          }
        ).connection.stream
        expect(socket.encrypted).toBe(true)
        expect(socket.getPeerCertificate().subject.CN).toBe('localhost')
      },
      { ssl: { ca: readFileSync(tls.caFile), rejectUnauthorized: true } },
    )
  })

  it('fails verify-full against a CA that did not sign the certificate', async () => {
    const other = makeTlsFiles()
    const url = new URL(t.url)
    url.hostname = 'localhost'
    const c = new pg.Client({
      connectionString: url.toString(),
      ssl: { ca: readFileSync(other.caFile), rejectUnauthorized: true },
    })
    c.on('error', () => {})
    await expect(c.connect()).rejects.toThrow(/self.signed|unable to verify|certificate/i)
  })

  // psql runs asynchronously: the proxy shares this process's event loop.
  it('works with psql sslmode=require and verify-full, and reports the TLS session', async () => {
    const psql = promisify(execFile)
    const out = await psql('psql', [`${t.url}?sslmode=require`, '-Atc', 'select 6 * 7'])
    expect(out.stdout.trim()).toBe('42')
    const verifyFull = `${t.url}?sslmode=verify-full&sslrootcert=${tls.caFile}`.replace('127.0.0.1', 'localhost')
    const info = await psql('psql', [verifyFull, '-c', '\\conninfo'])
    expect(info.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/)
  })
})
