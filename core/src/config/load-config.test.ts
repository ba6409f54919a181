import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isCairnError } from '../errors/cairn-error.js'
import { loadConfig } from './load-config.js'

const cwd = mkdtempSync(join(tmpdir(), 'cairn-config-'))

function configError(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(isCairnError(err, 'CAIRN_ERR_CONFIG_INVALID') || isCairnError(err, 'CAIRN_ERR_CONFIG_FILE_UNREADABLE')).toBe(
      true,
    )
    return (err as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('loadConfig', () => {
  it('gives the documented defaults with an empty environment', () => {
    const config = loadConfig({ env: {}, cwd })
    expect(config).toMatchObject({ proxyPort: 6432, httpPort: 8080, logLevel: 'info', logFormat: 'auto' })
    expect(config.databaseUrl).toBeUndefined()
    expect(config.redisUrl).toBeUndefined()
    expect(config.dataDir).toBe(join(cwd, '.cairn'))
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('reads every CAIRN_* variable', () => {
    const config = loadConfig({
      cwd,
      env: {
        CAIRN_DATABASE_URL: 'postgres://u:p@db.example:5432/shop',
        CAIRN_REDIS_URL: 'redis://cache:6379/2',
        CAIRN_PROXY_PORT: '7000',
        CAIRN_HTTP_PORT: '9000',
        CAIRN_DATA_DIR: '/var/lib/cairn',
        CAIRN_LOG_LEVEL: 'debug',
      },
    })
    expect(config).toMatchObject({
      databaseUrl: 'postgres://u:p@db.example:5432/shop',
      redisUrl: 'redis://cache:6379/2',
      proxyPort: 7000,
      httpPort: 9000,
      dataDir: '/var/lib/cairn',
      logLevel: 'debug',
    })
  })

  it('lets the environment override cairn.config.json, and the file override defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-config-file-'))
    writeFileSync(join(dir, 'cairn.config.json'), JSON.stringify({ proxyPort: 7001, httpPort: 9001 }))
    const config = loadConfig({ cwd: dir, env: { CAIRN_HTTP_PORT: '9002' } })
    expect(config.proxyPort).toBe(7001)
    expect(config.httpPort).toBe(9002)
  })

  it.each([
    ['CAIRN_PROXY_PORT', 'abc', /CAIRN_PROXY_PORT.*"abc".*port/],
    ['CAIRN_PROXY_PORT', '70000', /CAIRN_PROXY_PORT.*between 1 and 65535/],
    ['CAIRN_HTTP_PORT', '80.5', /CAIRN_HTTP_PORT.*whole number/],
    ['CAIRN_DATABASE_URL', 'mysql://x@y/z', /CAIRN_DATABASE_URL.*postgres:\/\//],
    ['CAIRN_REDIS_URL', 'localhost:6379', /CAIRN_REDIS_URL.*redis:\/\//],
    ['CAIRN_LOG_LEVEL', 'loud', /CAIRN_LOG_LEVEL.*one of fatal, error/],
  ])('refuses %s=%s and names it', (name, value, pattern) => {
    expect(configError(() => loadConfig({ cwd, env: { [name]: value } }))).toMatch(pattern)
  })

  it('reads cache relation lists from the environment and the file', () => {
    expect(loadConfig({ cwd, env: { CAIRN_CACHE_DENY: 'gold, silver.orders' } }).cacheDeny).toEqual([
      'gold',
      'silver.orders',
    ])
    const dir = mkdtempSync(join(tmpdir(), 'cairn-config-lists-'))
    writeFileSync(join(dir, 'cairn.config.json'), JSON.stringify({ cacheAllow: ['gold'] }))
    expect(loadConfig({ cwd: dir, env: {} }).cacheAllow).toEqual(['gold'])
    expect(configError(() => loadConfig({ cwd, env: { CAIRN_CACHE_DENY: 'a.b.c' } }))).toMatch(
      /CAIRN_CACHE_DENY.*schema or schema\.table/,
    )
  })

  it('reads per-relation cache TTLs', () => {
    expect(
      loadConfig({ cwd, env: { CAIRN_CACHE_TTL_BY_RELATION: 'gold=600000, silver.orders=60000' } }).cacheTtlByRelation,
    ).toEqual({
      gold: 600000,
      'silver.orders': 60000,
    })
    expect(configError(() => loadConfig({ cwd, env: { CAIRN_CACHE_TTL_BY_RELATION: 'gold:5' } }))).toMatch(
      /CAIRN_CACHE_TTL_BY_RELATION.*relation=milliseconds/,
    )
  })

  it('names every bad setting at once', () => {
    const message = configError(() => loadConfig({ cwd, env: { CAIRN_PROXY_PORT: 'x', CAIRN_HTTP_PORT: '0' } }))
    expect(message).toMatch(/CAIRN_PROXY_PORT/)
    expect(message).toMatch(/CAIRN_HTTP_PORT/)
  })

  it('names the file and the key for a bad value in cairn.config.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-config-bad-'))
    writeFileSync(join(dir, 'cairn.config.json'), JSON.stringify({ httpPort: 'eighty' }))
    expect(configError(() => loadConfig({ cwd: dir, env: {} }))).toMatch(/"httpPort" in .*cairn\.config\.json/)
  })

  it('refuses an unknown key, invalid JSON, and a missing explicit file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-config-keys-'))
    writeFileSync(join(dir, 'cairn.config.json'), JSON.stringify({ proxyPrt: 1 }))
    expect(configError(() => loadConfig({ cwd: dir, env: {} }))).toMatch(/unknown setting "proxyPrt"/)
    writeFileSync(join(dir, 'cairn.config.json'), '{ nope')
    expect(configError(() => loadConfig({ cwd: dir, env: {} }))).toMatch(/is not valid JSON/)
    expect(configError(() => loadConfig({ cwd, env: { CAIRN_CONFIG: 'missing.json' } }))).toMatch(/missing\.json/)
  })
})
