export {
  analyzeSql,
  type ColumnUse,
  loadSqlParser,
  type RelationRef,
  type StatementAnalysis,
} from './analysis/analyze-sql.js'
export { loadCatalogSnapshot } from './analysis/catalog-snapshot.js'
export { type NormalizedSql, normalizeSql } from './analysis/normalize-sql.js'
export { parseSearchPath, RelationResolver } from './analysis/relation-resolver.js'
export { StatementAnalyzer } from './analysis/statement-analyzer.js'
export { AuthQueryStore, type CredentialStore, credentialFrom, UsersFileStore } from './auth/credential-store.js'
export { parseScramVerifier, verifierFromPassword } from './auth/scram.js'
export { type CacheEntry, decodeEntry, encodeEntry } from './cache/cache-entry.js'
export { cacheKey } from './cache/cache-key.js'
export { type Cacheability, type CachePolicy, cacheability } from './cache/cacheability.js'
export {
  ALL_RELATIONS,
  type CacheOutcome,
  type Lookup,
  ResultCache,
  type ResultCacheOptions,
} from './cache/result-cache.js'
export { WriteFollower, type WriteFollowerOptions } from './cache/write-follower.js'
export { ProxyServer, type ProxyServerOptions } from './proxy-server.js'
export { type ProxyService, startProxyService } from './proxy-service.js'
export type { SessionCache } from './session/client-session.js'
export { QueryEventWriter, type QueryEventWriterOptions } from './telemetry/query-event-writer.js'
export type { StatementRecord, StatementSink } from './telemetry/statement-record.js'
export { TelemetryPipeline, type TelemetryPipelineOptions } from './telemetry/telemetry-pipeline.js'
