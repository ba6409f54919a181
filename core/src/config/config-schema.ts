import { z } from 'zod'

const port = z.coerce
  .number({ error: 'expected a port number' })
  .int({ error: 'expected a whole number' })
  .min(1, { error: 'expected a port between 1 and 65535' })
  .max(65535, { error: 'expected a port between 1 and 65535' })

const positiveInt = z.coerce
  .number({ error: 'expected a number' })
  .int({ error: 'expected a whole number' })
  .min(1, { error: 'expected a number of at least 1' })

/** `gold, silver.orders` → ['gold', 'silver.orders'] (schemas or schema.tables). */
const relationList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
  .pipe(
    z.array(
      z.string().regex(/^[^.\s]+(\.[^.\s]+)?$/, { error: 'expected schema or schema.table names, comma-separated' }),
    ),
  )
  .default([])

/** `gold=600000, silver.orders=60000` → { gold: 600000, 'silver.orders': 60000 } (TTL in ms per schema or table). */
const ttlMap = z
  .union([z.string(), z.record(z.string(), z.number())])
  .transform((v, ctx) => {
    if (typeof v !== 'string') return v
    const out: Record<string, number> = {}
    for (const part of v
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part)
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected relation=milliseconds pairs, got "${part}"` })
        return z.NEVER
      }
      out[m[1] as string] = Number(m[2])
    }
    return out
  })
  .default({})

const postgresUrl = z.string().refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
  error: 'expected a URL like postgres://user:password@host:5432/database',
})

const redisUrl = z.string().refine((v) => /^rediss?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
  error: 'expected a URL like redis://host:6379/0',
})

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Every setting, with the environment variable that sets it. The config file
 * (`cairn.config.json`) uses the same keys as this object.
 */
export const settings = {
  databaseUrl: { env: 'CAIRN_DATABASE_URL', schema: postgresUrl.optional() },
  redisUrl: { env: 'CAIRN_REDIS_URL', schema: redisUrl.optional() },
  proxyPort: { env: 'CAIRN_PROXY_PORT', schema: port.default(6432) },
  httpPort: { env: 'CAIRN_HTTP_PORT', schema: port.default(8080) },
  host: {
    env: 'CAIRN_HOST',
    schema: z.string().min(1, { error: 'expected a host name or address' }).default('127.0.0.1'),
  },
  dataDir: {
    env: 'CAIRN_DATA_DIR',
    schema: z.string().min(1, { error: 'expected a directory path' }).default('.cairn'),
  },
  embeddedPostgresPort: { env: 'CAIRN_EMBEDDED_PG_PORT', schema: port.default(5433) },
  proxyPoolMode: {
    env: 'CAIRN_PROXY_POOL_MODE',
    schema: z.enum(['transaction', 'session'], { error: 'expected transaction or session' }).default('transaction'),
  },
  proxyPoolSize: { env: 'CAIRN_PROXY_POOL_SIZE', schema: positiveInt.default(20) },
  proxyQueueTimeoutMs: { env: 'CAIRN_PROXY_QUEUE_TIMEOUT_MS', schema: positiveInt.default(10_000) },
  proxyServerIdleTimeoutMs: { env: 'CAIRN_PROXY_SERVER_IDLE_TIMEOUT_MS', schema: positiveInt.default(60_000) },
  proxyMaxClients: { env: 'CAIRN_PROXY_MAX_CLIENTS', schema: positiveInt.default(1000) },
  proxyAuth: {
    env: 'CAIRN_PROXY_AUTH',
    schema: z
      .enum(['scram-sha-256', 'md5', 'trust'], { error: 'expected scram-sha-256, md5 or trust' })
      .default('scram-sha-256'),
  },
  proxyUsersFile: { env: 'CAIRN_PROXY_USERS_FILE', schema: z.string().min(1).optional() },
  proxyTlsCert: { env: 'CAIRN_PROXY_TLS_CERT', schema: z.string().min(1).optional() },
  proxyTlsKey: { env: 'CAIRN_PROXY_TLS_KEY', schema: z.string().min(1).optional() },
  cache: {
    env: 'CAIRN_CACHE',
    schema: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  },
  cacheTtlMs: { env: 'CAIRN_CACHE_TTL_MS', schema: positiveInt.default(300_000) },
  cacheMaxEntryBytes: { env: 'CAIRN_CACHE_MAX_ENTRY_BYTES', schema: positiveInt.default(1024 * 1024) },
  cacheTtlByRelation: { env: 'CAIRN_CACHE_TTL_BY_RELATION', schema: ttlMap },
  cacheAdmitMs: {
    env: 'CAIRN_CACHE_ADMIT_MS',
    schema: z.coerce.number({ error: 'expected milliseconds' }).min(0).default(0),
  },
  cacheDeny: { env: 'CAIRN_CACHE_DENY', schema: relationList },
  cacheAllow: { env: 'CAIRN_CACHE_ALLOW', schema: relationList },
  telemetryRetentionDays: { env: 'CAIRN_TELEMETRY_RETENTION_DAYS', schema: positiveInt.default(7) },
  pipelines: {
    env: 'CAIRN_PIPELINES',
    schema: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  },
  /** Files dropped here (CSV/JSONL, named `<entity>[-n].csv|jsonl`) are loaded by bronze_ingestion. Default `<dataDir>/inbox`. */
  pipelineInboxDir: { env: 'CAIRN_PIPELINE_INBOX_DIR', schema: z.string().min(1).optional() },
  pipelineIngestCron: { env: 'CAIRN_PIPELINE_INGEST_CRON', schema: z.string().min(1).default('* * * * *') },
  pipelineMaintenanceCron: { env: 'CAIRN_PIPELINE_MAINTENANCE_CRON', schema: z.string().min(1).default('17 3 * * *') },
  /** Orders of demo data `cairn start` loads on its first start (0: none). */
  pipelineDemoOrders: {
    env: 'CAIRN_PIPELINE_DEMO_ORDERS',
    schema: z.coerce.number({ error: 'expected a number' }).int().min(0).default(10_000),
  },
  /** Days of bronze history kept per source; 0 keeps everything. */
  bronzeRetentionDays: {
    env: 'CAIRN_BRONZE_RETENTION_DAYS',
    schema: z.coerce.number({ error: 'expected a number' }).int().min(0).default(0),
  },
  /** Slack-compatible webhook that receives pipeline alerts. */
  pipelineWebhookUrl: { env: 'CAIRN_PIPELINE_WEBHOOK_URL', schema: z.string().url().optional() },
  agents: {
    env: 'CAIRN_AGENTS',
    schema: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  },
  /** Third-party agents: module paths or npm package names, comma-separated, resolved from the working directory. */
  agentModules: {
    env: 'CAIRN_AGENT_MODULES',
    schema: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
      .default([]),
  },
  /** `redis`: several Cairn processes send their query events through a Redis Stream to one leader that runs the agents. */
  agentsScaleOut: {
    env: 'CAIRN_AGENTS_SCALE_OUT',
    schema: z.enum(['off', 'redis'], { error: 'expected off or redis' }).default('off'),
  },
  /** Worker threads for the agents' heavy work; default one per core beyond the first. */
  agentWorkerThreads: { env: 'CAIRN_AGENT_WORKER_THREADS', schema: positiveInt.optional() },
  /** Cores' worth of CPU the agents' worker threads may take on average (the rest is PostgreSQL's and the proxy's). */
  agentCpuShare: {
    env: 'CAIRN_AGENT_CPU_SHARE',
    schema: z.coerce.number({ error: 'expected a number of cores, e.g. 0.25' }).gt(0).max(64).default(0.25),
  },
  /** How often collectors sample PostgreSQL and host statistics. */
  collectorIntervalMs: { env: 'CAIRN_COLLECTOR_INTERVAL_MS', schema: positiveInt.default(60_000) },
  /** How often the workload clusterer re-clusters, and the bucket of its arrival forecasts. */
  workloadIntervalMs: { env: 'CAIRN_WORKLOAD_INTERVAL_MS', schema: positiveInt.default(600_000) },
  workloadBucketMs: { env: 'CAIRN_WORKLOAD_BUCKET_MS', schema: positiveInt.default(3_600_000) },
  /** The anomaly detector's interval. */
  anomalyIntervalMs: { env: 'CAIRN_ANOMALY_INTERVAL_MS', schema: positiveInt.default(60_000) },
  /**
   * What the optimization loop may do per action kind: `off`, `recommend` (wait for approval) or `auto`,
   * e.g. `index.create=auto, index.drop=recommend`. Kinds not named: `recommend`.
   */
  actionPolicy: { env: 'CAIRN_ACTION_POLICY', schema: z.string().default('') },
  /** When changes may be applied (UTC), e.g. `Mon-Fri 01:00-05:00; Sat-Sun 00:00-24:00`, or `always`. */
  maintenanceWindows: { env: 'CAIRN_MAINTENANCE_WINDOWS', schema: z.string().min(1).default('always') },
  /** Bytes the indexes the loop creates may take in all (unset: no limit beyond the advisor's budget). */
  actionStorageBudgetBytes: { env: 'CAIRN_ACTION_STORAGE_BUDGET_BYTES', schema: positiveInt.optional() },
  /** How often the index advisor analyses the workload. */
  advisorIntervalMs: { env: 'CAIRN_ADVISOR_INTERVAL_MS', schema: positiveInt.default(3_600_000) },
  /** The index advisor's storage budget, as a fraction of the database size. */
  indexBudgetFraction: {
    env: 'CAIRN_INDEX_BUDGET_FRACTION',
    schema: z.coerce.number({ error: 'expected a fraction' }).gt(0).max(10).default(0.1),
  },
  /** Days of collector samples and findings kept. */
  agentRetentionDays: { env: 'CAIRN_AGENT_RETENTION_DAYS', schema: positiveInt.default(7) },
  logLevel: {
    env: 'CAIRN_LOG_LEVEL',
    schema: z.enum(logLevels, { error: `expected one of ${logLevels.join(', ')}` }).default('info'),
  },
  logFormat: {
    env: 'CAIRN_LOG_FORMAT',
    schema: z.enum(['auto', 'json', 'pretty'], { error: 'expected auto, json or pretty' }).default('auto'),
  },
} as const

export type SettingName = keyof typeof settings

export const configSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([k, s]) => [k, s.schema])) as {
    [K in SettingName]: (typeof settings)[K]['schema']
  },
)

/** The validated configuration, immutable once loaded. */
export type CairnConfig = Readonly<z.infer<typeof configSchema>>
