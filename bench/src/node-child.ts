import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/** One JSON line a child printed on stdout. */
export type ChildMessage = Record<string, unknown>

export interface NodeChildOptions {
  /** Names the child in errors and in the stderr lines its non-JSON stdout is copied to. */
  label: string
  env?: NodeJS.ProcessEnv
  /** How long it may take to report its port; 30 s. */
  timeoutMs?: number
  /** Called with each JSON line after the first one that has a port. */
  onMessage?: (message: ChildMessage) => void
}

export interface NodeChild {
  pid: number
  port: number
  /** The line it reported its port in. */
  ready: ChildMessage
  /** SIGTERM, SIGKILL after 10 s; resolves once it has exited and all its stdout has been read. */
  stop(): Promise<void>
}

/**
 * Runs one of the bench's Node programs in a process of its own, so nothing
 * the driver does runs on its event loop. The program reports readiness with a
 * JSON line holding its `port` on stdout, stops on SIGTERM, and should stop when
 * its stdin ends (the driver gone).
 */
export function startNodeChild(entry: string, options: NodeChildOptions): Promise<NodeChild> {
  const { label, timeoutMs = 30_000 } = options
  const child = spawn(process.execPath, [entry], {
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  // 'close' comes after stdout has ended (for every process holding it), so every line has been read by then.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await closed
      clearTimeout(killer)
    })()
    return stopped
  }

  return new Promise((resolve, reject) => {
    let ready: ChildMessage | undefined
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the ${label} process did not report its port in time`))
    }, timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (!ready) reject(new Error(`the ${label} process exited (${code ?? signal}) before it listened`))
    })
    lines.on('line', (line) => {
      let message: unknown
      try {
        message = JSON.parse(line)
      } catch {
        message = undefined
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        process.stderr.write(`${label}: ${line}\n`)
        return
      }
      const fields = message as ChildMessage
      if (ready) {
        options.onMessage?.(fields)
      } else if (typeof fields.port === 'number' && child.pid !== undefined) {
        clearTimeout(timer)
        ready = fields
        resolve({ pid: child.pid, port: fields.port, ready, stop })
      }
    })
  })
}
