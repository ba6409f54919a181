import type { ServerConnection } from '../upstream/server-connection.js'

/** Startup parameters that are not settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'options'])

/**
 * The settings a client asked for at startup, as PostgreSQL would apply them:
 * each startup parameter, plus `-c name=value` / `--name=value` from `options`.
 */
export function desiredSettings(params: Record<string, string>): Map<string, string> {
  const settings = new Map<string, string>()
  for (const [name, value] of Object.entries(params)) {
    if (!NOT_SETTINGS.has(name)) settings.set(name.toLowerCase(), value)
  }
  const options = params.options?.trim()
  if (options) {
    // Backslash escapes a space inside a value, as in PostgreSQL's pg_split_opts.
    const words = options.match(/(?:\\.|\S)+/g) ?? []
    for (let i = 0; i < words.length; i++) {
      let word = (words[i] as string).replace(/\\(.)/g, '$1')
      if (word === '-c') word = `--${(words[++i] ?? '').replace(/\\(.)/g, '$1')}`
      else if (word.startsWith('-c')) word = `--${word.slice(2)}`
      const m = /^--([^=]+)=(.*)$/s.exec(word)
      if (!m) throw new Error(`invalid command-line argument for server process: ${words[i]}`)
      settings.set((m[1] as string).toLowerCase().replaceAll('-', '_'), m[2] as string)
    }
  }
  return settings
}

const quoteLiteral = (v: string) => `'${v.replaceAll("'", "''")}'`
const quoteIdent = (v: string) => (/^[a-z_][a-z0-9_.]*$/.test(v) ? v : `"${v.replaceAll('"', '""')}"`)

/**
 * SQL that makes a server connection's settings match a client's: SET what
 * differs, RESET what an earlier client set and this one did not ask for.
 * Empty when nothing differs. Reported settings (ParameterStatus) are compared
 * with the server's reported value; others with what the proxy set before.
 */
export function settingsSql(conn: ServerConnection, desired: ReadonlyMap<string, string>): string {
  const statements: string[] = []
  for (const [name, value] of desired) {
    const current = conn.overrides.get(name) ?? reported(conn, name)
    if (current !== undefined && current.toLowerCase() === value.toLowerCase()) continue
    // set_config takes the value as a startup parameter or the config file would (`a,b` stays a list).
    statements.push(`SELECT pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`)
    conn.overrides.set(name, value)
  }
  for (const name of [...conn.overrides.keys()]) {
    if (desired.has(name)) continue
    statements.push(`RESET ${quoteIdent(name)}`)
    conn.overrides.delete(name)
  }
  return statements.join('; ')
}

function reported(conn: ServerConnection, name: string): string | undefined {
  for (const [k, v] of conn.params) if (k.toLowerCase() === name) return v
  return undefined
}
