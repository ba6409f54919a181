import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface TelemetryCounts {
  records: number | undefined
  events: number | undefined
}

export interface ProxyChild {
  port: number
  pid: number
  telemetry: string
  /** Stops the proxy; resolves with how many statement records its telemetry took and how many events it published. */
  stop(): Promise<TelemetryCounts>
}

const ENTRY = fileURLToPath(new URL('./proxy-process.js', import.meta.url))

/**
 * Starts Cairn's proxy in a Node process of its own (proxy-process.ts), so
 * nothing the bench driver does runs on the proxy's event loop.
 */
export function startProxyChild(databaseUrl: string, timeoutMs = 30_000): Promise<ProxyChild> {
  const child = spawn(process.execPath, [ENTRY], {
    env: { ...process.env, CAIRN_DATABASE_URL: databaseUrl },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const counts: TelemetryCounts = { records: undefined, events: undefined }
  let exited: Promise<void> | undefined
  // 'close' comes after stdout has ended, so the closing record count has been read by then.
  const exit = new Promise<void>((resolve) => child.once('close', () => resolve()))

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('the proxy process did not report its port in time'))
    }, timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the proxy process exited (${code ?? signal}) before it listened`))
    })
    lines.on('line', (line) => {
      let message: {
        port?: number
        pid?: number
        telemetry?: string
        stopped?: boolean
        records?: number
        events?: number
      }
      try {
        message = JSON.parse(line)
      } catch {
        process.stderr.write(`proxy: ${line}\n`)
        return
      }
      if (message.stopped) {
        counts.records = message.records
        counts.events = message.events
      } else if (message.port !== undefined && child.pid !== undefined) {
        clearTimeout(timer)
        const pid = child.pid
        resolve({
          port: message.port,
          pid,
          telemetry: message.telemetry ?? 'unknown',
          stop() {
            exited ??= (async () => {
              child.kill('SIGTERM')
              const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
              await exit
              clearTimeout(killer)
            })()
            return exited.then(() => counts)
          },
        })
      }
    })
  })
}
