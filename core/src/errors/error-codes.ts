import { CairnError, type CairnErrorInfo } from './cairn-error.js'

/** A constructor for one coded error: `errors.CONFIG_INVALID('CAIRN_PROXY_PORT: ...')`. */
export interface CairnErrorFactory extends CairnErrorInfo {
  (detail?: string, options?: { cause?: unknown }): CairnError
  readonly message: string
}

function createError(
  code: `CAIRN_ERR_${string}`,
  message: string,
  statusCode: number,
  sqlstate?: string,
): CairnErrorFactory {
  const info: CairnErrorInfo = sqlstate === undefined ? { code, statusCode } : { code, statusCode, sqlstate }
  const factory = (detail?: string, options?: { cause?: unknown }) =>
    new CairnError(info, detail ? `${message}: ${detail}` : message, options)
  return Object.assign(factory, info, { message })
}

/**
 * The one registry of coded errors. SQLSTATEs are PostgreSQL's own
 * (https://www.postgresql.org/docs/15/errcodes-appendix.html), never invented.
 */
export const errors = {
  CONFIG_INVALID: createError('CAIRN_ERR_CONFIG_INVALID', 'Invalid configuration', 500),
  CONFIG_FILE_UNREADABLE: createError('CAIRN_ERR_CONFIG_FILE_UNREADABLE', 'Cannot read the configuration file', 500),
  DATABASE_UNAVAILABLE: createError('CAIRN_ERR_DATABASE_UNAVAILABLE', 'PostgreSQL is not reachable', 503, '08006'),
  REDIS_UNAVAILABLE: createError('CAIRN_ERR_REDIS_UNAVAILABLE', 'Redis is not reachable', 503),
  EMBEDDED_POSTGRES_FAILED: createError(
    'CAIRN_ERR_EMBEDDED_POSTGRES_FAILED',
    'The embedded PostgreSQL could not start',
    500,
  ),
  MIGRATION_CHANGED: createError('CAIRN_ERR_MIGRATION_CHANGED', 'An applied migration was changed afterwards', 500),
  MIGRATION_MISSING: createError(
    'CAIRN_ERR_MIGRATION_MISSING',
    'An applied migration is missing from the migrations directory',
    500,
  ),
  MIGRATION_INVALID_NAME: createError(
    'CAIRN_ERR_MIGRATION_INVALID_NAME',
    'A migration file name does not match NNNN_name.sql',
    500,
  ),
  MIGRATION_FAILED: createError('CAIRN_ERR_MIGRATION_FAILED', 'A migration failed and was rolled back', 500),
  PROTOCOL_VIOLATION: createError('CAIRN_ERR_PROTOCOL_VIOLATION', 'Protocol violation', 400, '08P01'),
  AUTH_FAILED: createError('CAIRN_ERR_AUTH_FAILED', 'Password authentication failed', 401, '28P01'),
  UNKNOWN_DATABASE: createError('CAIRN_ERR_UNKNOWN_DATABASE', 'Database does not exist', 404, '3D000'),
  TOO_MANY_CONNECTIONS: createError('CAIRN_ERR_TOO_MANY_CONNECTIONS', 'Too many connections', 503, '53300'),
  QUERY_CANCELED: createError('CAIRN_ERR_QUERY_CANCELED', 'Query was canceled', 499, '57014'),
  PLUGIN_INVALID: createError('CAIRN_ERR_PLUGIN_INVALID', 'Plugin is invalid', 500),
  PLUGIN_DEPENDENCY_MISSING: createError('CAIRN_ERR_PLUGIN_DEPENDENCY_MISSING', 'Plugin dependency is missing', 500),
  MODEL_NOT_FOUND: createError('CAIRN_ERR_MODEL_NOT_FOUND', 'No such model version', 404),
  MODEL_NOT_TRAINABLE: createError('CAIRN_ERR_MODEL_NOT_TRAINABLE', 'The model cannot be trained now', 409),
  PIPELINE_INVALID_BATCH: createError(
    'CAIRN_ERR_PIPELINE_INVALID_BATCH',
    'A source produced an invalid batch',
    400,
    '22023',
  ),
  PIPELINE_INGEST_REJECTED: createError('CAIRN_ERR_PIPELINE_INGEST_REJECTED', 'Ingest request rejected', 400, '22023'),
  PIPELINE_SOURCE_FAILED: createError('CAIRN_ERR_PIPELINE_SOURCE_FAILED', 'A pipeline source failed', 502),
  PIPELINE_QUALITY_FAILED: createError(
    'CAIRN_ERR_PIPELINE_QUALITY_FAILED',
    'A data-quality rule with action "fail" failed; the step was rolled back',
    422,
    '23514',
  ),
  PIPELINE_BLOCKED: createError(
    'CAIRN_ERR_PIPELINE_BLOCKED',
    'A pipeline step is blocked by a failed upstream step',
    409,
  ),
  PIPELINE_UNKNOWN_SOURCE: createError('CAIRN_ERR_PIPELINE_UNKNOWN_SOURCE', 'Unknown pipeline source', 404),
  SCHEDULER_INVALID_DAG: createError('CAIRN_ERR_SCHEDULER_INVALID_DAG', 'Invalid DAG definition', 500),
  SCHEDULER_UNKNOWN_DAG: createError('CAIRN_ERR_SCHEDULER_UNKNOWN_DAG', 'Unknown DAG', 404),
  SCHEDULER_UNKNOWN_TASK: createError('CAIRN_ERR_SCHEDULER_UNKNOWN_TASK', 'Unknown task', 404),
  SCHEDULER_UNKNOWN_RUN: createError('CAIRN_ERR_SCHEDULER_UNKNOWN_RUN', 'Unknown DAG run', 404),
  SCHEDULER_INVALID_REQUEST: createError('CAIRN_ERR_SCHEDULER_INVALID_REQUEST', 'Invalid scheduler request', 400),
  SCHEDULER_RUN_NOT_RERUNNABLE: createError(
    'CAIRN_ERR_SCHEDULER_RUN_NOT_RERUNNABLE',
    'The DAG run cannot be re-run in its current state',
    409,
  ),
  SCHEDULER_TASK_TIMEOUT: createError('CAIRN_ERR_SCHEDULER_TASK_TIMEOUT', 'A task try timed out', 504),
  SCHEDULER_STOPPED: createError('CAIRN_ERR_SCHEDULER_STOPPED', 'The scheduler is stopping', 503),
  SCHEDULER_WAIT_TIMEOUT: createError('CAIRN_ERR_SCHEDULER_WAIT_TIMEOUT', 'Timed out waiting for a DAG run', 504),
} as const

export type CairnErrorName = keyof typeof errors
