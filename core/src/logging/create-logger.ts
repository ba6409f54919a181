import { type Logger, type LoggerOptions, pino } from 'pino'

export type { Logger }

export interface CreateLoggerOptions {
  level?: string
  /** `auto` pretty-prints only when stdout is a TTY; JSON everywhere else. */
  format?: 'auto' | 'json' | 'pretty'
  name?: string
  /** Where JSON lines go; defaults to stdout. Pretty output always goes to stdout. */
  destination?: NodeJS.WritableStream
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const { level = 'info', format = 'auto', name = 'cairn', destination } = options
  const base: LoggerOptions = { name, level, base: { pid: process.pid } }
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true && !destination)
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    })
  }
  return destination ? pino(base, destination as pino.DestinationStream) : pino(base)
}
