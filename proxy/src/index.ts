export {
  analyzeSql,
  type ColumnUse,
  loadSqlParser,
  type RelationRef,
  type StatementAnalysis,
} from './analysis/analyze-sql.js'
export { type NormalizedSql, normalizeSql } from './analysis/normalize-sql.js'
export { parseSearchPath, RelationResolver } from './analysis/relation-resolver.js'
export { AuthQueryStore, type CredentialStore, credentialFrom, UsersFileStore } from './auth/credential-store.js'
export { parseScramVerifier, verifierFromPassword } from './auth/scram.js'
export { ProxyServer, type ProxyServerOptions } from './proxy-server.js'
export { type ProxyService, startProxyService } from './proxy-service.js'
export { QueryEventWriter, type QueryEventWriterOptions } from './telemetry/query-event-writer.js'
export type { StatementRecord, StatementSink } from './telemetry/statement-record.js'
export { TelemetryPipeline, type TelemetryPipelineOptions } from './telemetry/telemetry-pipeline.js'
