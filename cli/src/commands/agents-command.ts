import { FindingStore } from '@cairn/agents'
import { errors, type Finding, type Logger } from '@cairn/core'
import type { Agent } from '@cairn/plugins'
import { configuredAgents } from '../agent-runtime.js'
import { withDatabase } from '../database-context.js'
import { textTable } from './text-table.js'

/** `15m`, `2h`, `7d` before now, or an ISO 8601 time. */
export function parseSince(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(value.trim())
  if (m) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
    return Date.now() - Number(m[1]) * unit
  }
  const at = Date.parse(value)
  if (Number.isNaN(at))
    throw errors.CONFIG_INVALID(
      `--since ${JSON.stringify(value)}: expected a duration (15m, 2h, 7d) or an ISO 8601 time`,
    )
  return at
}

const ago = (at: Date | null): string => {
  if (!at) return '-'
  const s = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000))
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

function describeAgent(agent: Agent, origin: string): (string | number)[] {
  return [
    agent.meta.name,
    agent.meta.version,
    (agent.meta.dependsOn ?? []).join(', ') || '-',
    origin,
    agent.meta.description ?? '',
  ]
}

export const agentsCommands = {
  /** The agents `cairn start` would run with this configuration, in start order. */
  list: (logger: Logger) =>
    withDatabase(logger, async ({ config, pool, db }) => {
      const { builtin, modules } = await configuredAgents(config, pool, db.url)
      const rows = [
        ...builtin().map((a) => describeAgent(a, 'built-in')),
        ...modules.map(({ agent, spec }) => describeAgent(agent, spec)),
      ]
      process.stdout.write(`${textTable(['agent', 'version', 'depends on', 'from', 'description'], rows)}\n`)
      if (config.agents === 'off')
        process.stdout.write('\nAgents are off (CAIRN_AGENTS=off): `cairn start` runs none.\n')
      return 0
    }),

  /** What the running host last wrote to cairn_meta.agent_status. */
  status: (logger: Logger) =>
    withDatabase(logger, async ({ pool }) => {
      const { rows } = await pool.query<{
        name: string
        version: string
        state: string
        host: string
        started_at: Date | null
        restarts: number
        errors: number
        last_error: string | null
        events_seen: string
        events_dropped: string
        findings: string
        updated_at: Date
      }>('SELECT * FROM cairn_meta.agent_status ORDER BY name')
      if (rows.length === 0) {
        process.stdout.write('No agent has run yet: `cairn start` runs them and records their status here.\n')
        return 0
      }
      process.stdout.write(
        `${textTable(
          [
            'agent',
            'version',
            'state',
            'host',
            'up since',
            'restarts',
            'errors',
            'events',
            'dropped',
            'findings',
            'updated',
          ],
          rows.map((r) => [
            r.name,
            r.version,
            // The host writes every few seconds while it runs; a row left behind by a killed process goes stale.
            r.state === 'running' && Date.now() - r.updated_at.getTime() > 60_000 ? 'running (stale)' : r.state,
            r.host,
            ago(r.started_at),
            r.restarts,
            r.errors,
            Number(r.events_seen),
            Number(r.events_dropped),
            Number(r.findings),
            ago(r.updated_at),
          ]),
        )}\n`,
      )
      const failing = rows.filter((r) => r.last_error)
      for (const r of failing) process.stdout.write(`\n${r.name}: last error: ${r.last_error}`)
      if (failing.length) process.stdout.write('\n')
      return 0
    }),

  /** Findings, newest first. */
  findings: (logger: Logger, opts: { kind?: string; since?: string; source?: string; limit: number; json?: boolean }) =>
    withDatabase(logger, async ({ pool }) => {
      const since = opts.since === undefined ? undefined : parseSince(opts.since)
      const findings = await new FindingStore(pool).list({
        ...(opts.kind ? { kind: opts.kind } : {}),
        ...(opts.source ? { source: opts.source } : {}),
        ...(since === undefined ? {} : { since }),
        limit: opts.limit,
      })
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`)
        return 0
      }
      if (findings.length === 0) {
        process.stdout.write('No findings match.\n')
        return 0
      }
      for (const f of findings) process.stdout.write(formatFinding(f))
      return 0
    }),
}

function formatFinding(f: Finding): string {
  const at = new Date(f.at).toISOString().replace('T', ' ').slice(0, 19)
  const benefit =
    f.predictedBenefitMs === undefined ? '' : `  (predicted benefit ${f.predictedBenefitMs.toFixed(0)} ms/h)`
  return `${at}  ${f.severity.padEnd(8)}  ${f.kind}  [${f.source}]${benefit}\n    ${f.reason}\n`
}
