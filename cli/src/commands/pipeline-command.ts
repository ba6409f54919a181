import { resolve } from 'node:path'
import { errors, type Logger, loadConfig } from '@cairn/core'
import {
  createSourceRegistry,
  type DagRunInfo,
  exportAirflowDags,
  pipelineDags,
  pipelineSettingsFromConfig,
  type ReprocessMode,
} from '@cairn/pipelines'
import cliProgress from 'cli-progress'
import { openPipelineContext, type PipelineContext } from './pipeline-context.js'
import { textTable } from './text-table.js'

async function withContext(logger: Logger, fn: (ctx: PipelineContext) => Promise<number>): Promise<number> {
  const ctx = await openPipelineContext(logger)
  try {
    return await fn(ctx)
  } finally {
    await ctx.close()
  }
}

function parseDate(value: string, flag: string): Date {
  const d = new Date(value)
  if (Number.isNaN(d.getTime()))
    throw errors.SCHEDULER_INVALID_REQUEST(`${flag} ${JSON.stringify(value)} is not a date`)
  return d
}

const seconds = (run: DagRunInfo) =>
  run.startedAt ? (((run.finishedAt ?? new Date()).getTime() - run.startedAt.getTime()) / 1000).toFixed(1) : '-'

/**
 * Waits for runs, and for the runs their data triggers downstream (silver after bronze, gold after
 * silver), with one progress bar over their tasks, then prints a table per run. Exit 1 if one failed.
 */
async function follow(ctx: PipelineContext, started: readonly number[]): Promise<number> {
  const ids = [...started]
  const since = Math.min(...started)
  ctx.executor.start()
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} tasks | {state} | {duration_formatted}',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let barStarted = false
  let settledOnce = false
  const runs = new Map<number, DagRunInfo>()
  for (;;) {
    const recent = await ctx.executor.status({ limit: 500 })
    for (const r of recent) {
      if (r.trigger === 'data' && r.dagRunId > since && !ids.includes(r.dagRunId)) ids.push(r.dagRunId)
      if (ids.includes(r.dagRunId)) runs.set(r.dagRunId, r)
    }
    const all = [...runs.values()]
    const total = all.reduce((a, r) => a + r.tasks.length, 0)
    const done = all.reduce((a, r) => a + r.tasks.filter((t) => t.status !== 'running').length, 0)
    const state = all.map((r) => `${r.dag} ${r.status}`).join(', ')
    if (!barStarted && total > 0) {
      bar.start(total, done, { state })
      barStarted = true
    } else if (barStarted) {
      bar.setTotal(total)
      bar.update(done, { state })
    }
    // Finished: every run is, and a moment later no new downstream run has appeared.
    if (all.length === ids.length && all.every((r) => r.status === 'succeeded' || r.status === 'failed')) {
      if (settledOnce) break
      settledOnce = true
    } else {
      settledOnce = false
    }
    await new Promise((r) => setTimeout(r, 300))
  }
  bar.stop()
  let failed = false
  for (const run of [...runs.values()].sort((a, b) => a.dagRunId - b.dagRunId)) {
    const records = await ctx.executor.taskRuns(run.dagRunId)
    const last = new Map(records.map((r) => [r.task, r]))
    process.stdout.write(
      `\n${run.dag} run ${run.dagRunId} (${run.trigger}, ${run.interval.from.toISOString()} → ${run.interval.to.toISOString()}): ${run.status} in ${seconds(run)} s\n`,
    )
    process.stdout.write(
      `${textTable(
        ['task', 'status', 'tries', 'seconds', 'changed', 'error'],
        run.tasks.map((t) => {
          const r = last.get(t.task)
          const secs =
            r?.startedAt && r.finishedAt ? ((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(1) : '-'
          const changed = r?.summary && typeof r.summary.changed === 'number' ? r.summary.changed : '-'
          return [t.task, t.status, t.tries, secs, changed, (t.error ?? '').slice(0, 100)]
        }),
      )}\n`,
    )
    if (run.status === 'failed') failed = true
  }
  return failed ? 1 : 0
}

export const pipelineCommands = {
  list: (logger: Logger) =>
    withContext(logger, async (ctx) => {
      const recent = await ctx.planner.status({ limit: 200 })
      process.stdout.write(
        `${textTable(
          ['dag', 'runs when', 'tasks', 'last run', 'status'],
          ctx.dags.map((d) => {
            const last = recent.find((r) => r.dag === d.name)
            const when = d.schedule
              ? `cron ${d.schedule}`
              : `after ${(d.triggeredBy ?? []).join(', ') || 'a manual trigger'}`
            return [
              d.name,
              when,
              d.tasks.map((t) => t.name).join(', '),
              last ? `#${last.dagRunId} ${last.queuedAt.toISOString()}` : '-',
              last?.status ?? '-',
            ]
          }),
        )}\n`,
      )
      return 0
    }),

  run: (logger: Logger, dag: string) =>
    withContext(logger, async (ctx) => follow(ctx, [await ctx.executor.trigger(dag)])),

  runTask: (logger: Logger, dag: string, task: string, opts: { from?: string; to?: string }) =>
    withContext(logger, async (ctx) => {
      const interval =
        opts.from && opts.to ? { from: parseDate(opts.from, '--from'), to: parseDate(opts.to, '--to') } : undefined
      ctx.executor.start()
      const run = await ctx.executor.runTask(dag, task, interval ? { interval } : {})
      const done = await ctx.executor.waitFor(run.dagRunId)
      const state = done.tasks.find((t) => t.task === task)
      process.stdout.write(
        `${dag}.${task}: ${done.status} after ${state?.tries ?? 0} try(s)${state?.error ? `: ${state.error}` : ''}\n`,
      )
      return done.status === 'succeeded' ? 0 : 1
    }),

  backfill: (logger: Logger, dag: string, opts: { from: string; to: string; reprocess: ReprocessMode }) =>
    withContext(logger, async (ctx) => {
      const ids = await ctx.planner.backfill(dag, {
        from: parseDate(opts.from, '--from'),
        to: parseDate(opts.to, '--to'),
        reprocess: opts.reprocess,
      })
      if (ids.length === 0) {
        process.stdout.write(
          `nothing to backfill: every period of ${dag} in the range already has a run (try --reprocess)\n`,
        )
        return 0
      }
      process.stderr.write(`${ids.length} run(s) of ${dag} queued\n`)
      return follow(ctx, ids)
    }),

  rerun: (logger: Logger, dagRunId: number) =>
    withContext(logger, async (ctx) => follow(ctx, [await ctx.executor.rerunFailed(dagRunId)])),

  status: (logger: Logger, opts: { dag?: string; limit: number }) =>
    withContext(logger, async (ctx) => {
      const runs = await ctx.planner.status({ ...(opts.dag ? { dag: opts.dag } : {}), limit: opts.limit })
      process.stdout.write(
        `${textTable(
          ['run', 'dag', 'trigger', 'status', 'queued', 'seconds', 'tasks', 'error'],
          runs.map((r) => [
            r.dagRunId,
            r.dag,
            r.trigger,
            r.status,
            r.queuedAt.toISOString(),
            seconds(r),
            r.tasks.map((t) => `${t.task}:${t.status}${t.tries > 1 ? `×${t.tries}` : ''}`).join(' '),
            (r.error ?? '').slice(0, 80),
          ]),
        )}\n`,
      )
      return 0
    }),

  // Needs no database: the DAGs come from the configuration alone.
  exportAirflow: async (logger: Logger, dir: string, opts: { cairnCommand: string }) => {
    const dags = pipelineDags(pipelineSettingsFromConfig(loadConfig()), createSourceRegistry(), logger)
    const files = await exportAirflowDags(dags, resolve(dir), { cairnCommand: opts.cairnCommand })
    process.stdout.write(`${files.join('\n')}\n`)
    return 0
  },
}
