export { type DeepReadonly, deepFreeze } from './bus/deep-freeze.js'
export { type ActionCommand, type BusEvents, EventBus, type NewFinding } from './bus/event-bus.js'
export type { Finding, Severity } from './bus/finding.js'
export type { QueryEvent, StatementKind } from './bus/query-event.js'
export type { KeyValueCache } from './cache/key-value-cache.js'
export { MemoryCache, type MemoryCacheOptions } from './cache/memory-cache.js'
export { RedisCache, type RedisCacheOptions } from './cache/redis-cache.js'
export { type CairnConfig, configSchema, logLevels, type SettingName, settings } from './config/config-schema.js'
export { type LoadConfigOptions, loadConfig } from './config/load-config.js'
export { connectPostgres, redactUrl } from './db/connect-postgres.js'
export { type EmbeddedPostgresOptions, EmbeddedPostgresServer } from './db/embedded-postgres-server.js'
export { inTransaction } from './db/in-transaction.js'
export {
  loadMigrations,
  type Migration,
  type MigrationResult,
  type MigrationStatus,
  migrate,
  migrationStatus,
} from './db/migrator.js'
export { CairnError, type CairnErrorInfo, isCairnError } from './errors/cairn-error.js'
export { type CairnErrorFactory, type CairnErrorName, errors } from './errors/error-codes.js'
export { type CreateLoggerOptions, createLogger, type Logger } from './logging/create-logger.js'
export { counter, gauge, histogram, metricsRegistry } from './metrics/metrics-registry.js'
export { isParseNode, type ParseNode, positionalTarget, unwrapParseNode } from './sql/parse-tree.js'
