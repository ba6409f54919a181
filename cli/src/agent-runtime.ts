import { hostname } from 'node:os'
import {
  type ActionPolicyInput,
  type AgentService,
  builtinAgents,
  loadAgentModules,
  parseActionPolicy,
  startAgentService,
  WorkerPool,
} from '@cairn/agents'
import { type CairnConfig, type EventBus, errors, type Logger } from '@cairn/core'
import type { Agent } from '@cairn/plugins'
import pg from 'pg'

export interface ConfiguredAgents {
  /** Made afresh each call (each time this process becomes the leader). */
  builtin(): Agent[]
  readonly modules: readonly { spec: string; agent: Agent }[]
}

/** The optimization loop's policy from the settings; checked (CAIRN_ERR_CONFIG_INVALID) when read. */
export function actionPolicyFromConfig(config: CairnConfig): ActionPolicyInput {
  const policy: ActionPolicyInput = {
    modes: config.actionPolicy,
    windows: config.maintenanceWindows,
    ...(config.actionStorageBudgetBytes ? { storageBudgetBytes: config.actionStorageBudgetBytes } : {}),
  }
  parseActionPolicy(policy)
  return policy
}

/** What `cairn start` runs: the built-in agents, then the configured third-party ones (loaded now). */
export async function configuredAgents(
  config: CairnConfig,
  pool: pg.Pool,
  databaseUrl: string,
  bus?: EventBus,
): Promise<ConfiguredAgents> {
  const actionPolicy = actionPolicyFromConfig(config)
  const builtin = () =>
    builtinAgents({
      databaseUrl,
      actionPolicy,
      advisorIntervalMs: config.advisorIntervalMs,
      indexBudgetFraction: config.indexBudgetFraction,
      ...(bus ? { commands: bus.on('command') } : {}),
      pool,
      collectorIntervalMs: config.collectorIntervalMs,
      retentionDays: config.agentRetentionDays,
      workloadIntervalMs: config.workloadIntervalMs,
      workloadBucketMs: config.workloadBucketMs,
      anomalyIntervalMs: config.anomalyIntervalMs,
    }).agents
  const modules: { spec: string; agent: Agent }[] = []
  for (const spec of config.agentModules)
    for (const agent of await loadAgentModules([spec])) modules.push({ spec, agent })
  return { builtin, modules }
}

export interface AgentRuntime {
  readonly service: AgentService
  stop(): Promise<void>
}

/**
 * The agents of `cairn start`: a pool of their own on PostgreSQL (never through
 * the proxy, so their queries are not workload), worker threads, and the host —
 * on this process, or with CAIRN_AGENTS_SCALE_OUT=redis on whichever Cairn process
 * holds the leader lock, fed by every process's events through Redis.
 */
export async function startAgentRuntime(
  config: CairnConfig,
  databaseUrl: string,
  bus: EventBus,
  logger: Logger,
): Promise<AgentRuntime> {
  const log = logger.child({ component: 'agents' })
  if (config.agentsScaleOut === 'redis' && !config.redisUrl)
    throw errors.CONFIG_INVALID('CAIRN_AGENTS_SCALE_OUT=redis needs CAIRN_REDIS_URL')
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8, application_name: 'cairn agents' })
  pool.on('error', (err) => log.warn({ err }, 'agent database connection lost'))
  // Loaded now, so a bad third-party module stops the start with its reason.
  const configured = await configuredAgents(config, pool, databaseUrl, bus)
  const workers = new WorkerPool({
    cpuShare: config.agentCpuShare,
    ...(config.agentWorkerThreads ? { maxThreads: config.agentWorkerThreads } : {}),
  })
  const service = await startAgentService({
    bus,
    log,
    pool,
    databaseUrl,
    workers,
    hostId: `${hostname()}:${process.pid}`,
    findingsRetentionDays: config.agentRetentionDays,
    agents: () => [...configured.builtin(), ...configured.modules.map((m) => m.agent)],
    ...(config.agentsScaleOut === 'redis' && config.redisUrl ? { scaleOut: { redis: config.redisUrl } } : {}),
  })
  return {
    service,
    async stop() {
      await service.stop()
      await workers.close()
      await pool.end()
    },
  }
}
