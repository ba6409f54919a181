import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const cliBin = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url))

function requireBuild(): void {
  if (!existsSync(cliBin)) throw new Error(`${cliBin} is missing: run \`npm run build\` (npm test does it first)`)
}

/** Environment for a child `cairn`: no CAIRN_* from the caller's shell, plus the given settings. */
export function cliEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAIRN_')))
  return { ...env, CAIRN_LOG_FORMAT: 'json', ...settings }
}

/** Runs `cairn <args>` to completion. */
export function runCli(args: string[], settings: Record<string, string>, timeoutMs = 120_000) {
  requireBuild()
  const r = spawnSync(process.execPath, [cliBin, ...args], {
    env: cliEnv(settings),
    encoding: 'utf8',
    timeout: timeoutMs,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

export interface LogLine {
  msg: string
  [key: string]: unknown
}

/** A long-running `cairn <args>` whose JSON log lines are collected as they arrive. */
export class CliProcess {
  readonly child: ChildProcess
  readonly lines: LogLine[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(args: string[], settings: Record<string, string>) {
    requireBuild()
    this.child = spawn(process.execPath, [cliBin, ...args], {
      env: cliEnv(settings),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let buffered = ''
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      for (const part of parts) if (part.startsWith('{')) this.lines.push(JSON.parse(part) as LogLine)
    })
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8')
    })
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
  }

  /** Resolves with the first log line with this message; rejects if the process exits or time runs out first. */
  async waitFor(msg: string, timeoutMs = 90_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const line = this.lines.find((l) => l.msg === msg)
      if (line) return line
      if (this.child.exitCode !== null)
        throw new Error(`cairn exited (${this.child.exitCode}) before "${msg}": ${this.stderr}`)
      if (Date.now() > deadline) throw new Error(`no "${msg}" within ${timeoutMs} ms; stderr: ${this.stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
