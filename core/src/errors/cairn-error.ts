/** The fields every Cairn error carries, wherever it surfaces (log, HTTP, Postgres wire). */
export interface CairnErrorInfo {
  /** Stable code, `CAIRN_ERR_*`. */
  readonly code: string
  /** HTTP status the API answers with. */
  readonly statusCode: number
  /** SQLSTATE sent to a Postgres client, where the error can reach one. */
  readonly sqlstate?: string
}

/**
 * A coded error. Create them through the constructors in `error-codes.ts`,
 * never with `new CairnError` directly, so every code lives in one registry.
 */
export class CairnError extends Error implements CairnErrorInfo {
  readonly code: string
  readonly statusCode: number
  readonly sqlstate?: string

  constructor(info: CairnErrorInfo, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CairnError'
    this.code = info.code
    this.statusCode = info.statusCode
    if (info.sqlstate !== undefined) this.sqlstate = info.sqlstate
  }
}

export function isCairnError(err: unknown, code?: string): err is CairnError {
  return err instanceof CairnError && (code === undefined || err.code === code)
}
