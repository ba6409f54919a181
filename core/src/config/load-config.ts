import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { errors } from '../errors/error-codes.js'
import { type CairnConfig, configSchema, type SettingName, settings } from './config-schema.js'

export interface LoadConfigOptions {
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Defaults to `CAIRN_CONFIG`, else `./cairn.config.json` when it exists. */
  configFile?: string
  /** Directory relative paths resolve from; defaults to `process.cwd()`. */
  cwd?: string
}

/**
 * Reads configuration from defaults, then `cairn.config.json`, then `CAIRN_*`
 * environment variables (each later source wins). Throws CAIRN_ERR_CONFIG_INVALID
 * naming every bad setting, where it came from, and what is wrong with it.
 */
export function loadConfig(options: LoadConfigOptions = {}): CairnConfig {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const raw: Record<string, unknown> = {}
  const origin: Record<string, string> = {}

  const explicitFile = options.configFile ?? env.CAIRN_CONFIG
  const file = resolve(cwd, explicitFile ?? 'cairn.config.json')
  if (explicitFile !== undefined || existsSync(file)) {
    for (const [key, value] of Object.entries(readConfigFile(file))) {
      if (!(key in settings)) {
        throw errors.CONFIG_INVALID(
          `unknown setting "${key}" in ${file}; known settings are ${Object.keys(settings).join(', ')}`,
        )
      }
      raw[key] = value
      origin[key] = `"${key}" in ${file}`
    }
  }

  for (const [key, setting] of Object.entries(settings)) {
    const value = env[setting.env]
    if (value !== undefined && value !== '') {
      raw[key] = value
      origin[key] = `${setting.env} (environment)`
    }
  }

  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as SettingName
      const where = origin[key] ?? settings[key]?.env ?? key
      return `${where} = ${JSON.stringify(raw[key])}: ${issue.message}`
    })
    throw errors.CONFIG_INVALID(problems.join('; '))
  }
  return Object.freeze({ ...parsed.data, dataDir: resolve(cwd, parsed.data.dataDir) })
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw errors.CONFIG_FILE_UNREADABLE(`${file}: ${(cause as Error).message}`, { cause })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw errors.CONFIG_INVALID(`${file} is not valid JSON (${(cause as Error).message})`, { cause })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw errors.CONFIG_INVALID(`${file} must hold a JSON object of settings`)
  }
  return value as Record<string, unknown>
}
