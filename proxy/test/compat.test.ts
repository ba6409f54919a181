import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestProxy, type TestProxy } from './support/test-proxy.js'
import { makeTlsFiles, type TlsFiles } from './support/tls-files.js'

// One list of scenarios (compat/scenarios.json), run through three real drivers. Child processes
// run asynchronously: the proxy shares this process's event loop.
const run = promisify(execFile)
const scenarios = (
  JSON.parse(readFileSync(new URL('./compat/scenarios.json', import.meta.url), 'utf8')) as { name: string }[]
).map((s) => s.name)
const depsScript = new URL('../../scripts/compat-deps.sh', import.meta.url).pathname

interface Outcome {
  scenario: string
  ok: boolean
  detail: string
}

let t: TestProxy
let tls: TlsFiles
let runners: [string, string, string[]][]
beforeAll(async () => {
  // Installs psycopg, builds the pgx and pgjdbc runners (from PyPI, the Go proxy, Maven Central) on first use.
  const deps = await run('bash', [depsScript], { timeout: 900_000, maxBuffer: 16 * 1024 * 1024 })
  const exported = Object.fromEntries([...deps.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]))
  const python = exported.CAIRN_COMPAT_PYTHON
  const go = exported.CAIRN_COMPAT_GO
  const jar = exported.CAIRN_COMPAT_JAR
  if (!python || !go || !jar)
    throw new Error(`scripts/compat-deps.sh printed no runners:\n${deps.stdout}\n${deps.stderr}`)
  runners = [
    ['psycopg', python, [new URL('./compat/python/scenarios.py', import.meta.url).pathname]],
    ['pgx', go, []],
    ['pgjdbc', 'java', ['-jar', jar]],
  ]
  tls = makeTlsFiles()
  t = await startTestProxy({ poolSize: 10, tls: { certFile: tls.certFile, keyFile: tls.keyFile } })
}, 900_000)
afterAll(async () => {
  await t?.close()
})

async function runScenarios(runner: string, args: string[]): Promise<Outcome[]> {
  const entry = runners.find(([name]) => name === runner)
  if (!entry) throw new Error(`no runner ${runner}`)
  const [, command, prefix] = entry
  const { stdout } = await run(
    command,
    [...prefix, '--user', 'cairn', '--password', 'cairn', '--database', t.db.name, ...args],
    {
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  )
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Outcome)
}

const failures = (outcomes: Outcome[]) => outcomes.filter((o) => !o.ok).map((o) => `${o.scenario}: ${o.detail}`)

describe.each(['psycopg', 'pgx', 'pgjdbc'])('%s through the proxy', (runner) => {
  it('passes every scenario', async () => {
    const outcomes = await runScenarios(runner, ['--host', '127.0.0.1', '--port', String(t.port)])
    expect(outcomes.map((o) => o.scenario)).toEqual(scenarios.filter((s) => s !== 'tls_connect'))
    expect(failures(outcomes)).toEqual([])
  }, 300_000)

  it('connects with sslmode=verify-full', async () => {
    const outcomes = await runScenarios(runner, [
      '--host',
      'localhost',
      '--port',
      String(t.port),
      '--only',
      'tls_connect',
      '--sslmode',
      'verify-full',
      '--sslrootcert',
      tls.caFile,
    ])
    expect(outcomes.map((o) => o.scenario)).toEqual(['tls_connect'])
    expect(failures(outcomes)).toEqual([])
  }, 120_000)
})
