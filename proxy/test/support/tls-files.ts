import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TlsFiles {
  dir: string
  caFile: string
  certFile: string
  keyFile: string
}

/** A throwaway CA and a server certificate for localhost and 127.0.0.1, made with openssl. */
export function makeTlsFiles(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tls-'))
  const f = (name: string) => join(dir, name)
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Cairn Test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  )
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  )
  execFileSync(
    'bash',
    [
      '-c',
      `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${f('ext.cnf')} && openssl x509 -req -in ${f('server.csr')} -CA ${f('ca.crt')} -CAkey ${f('ca.key')} -CAcreateserial -days 2 -extfile ${f('ext.cnf')} -out ${f('server.crt')}`,
    ],
    { stdio: 'pipe' },
  )
  return { dir, caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') }
}
