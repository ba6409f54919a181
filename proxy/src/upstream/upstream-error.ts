import { readErrorFields } from '../protocol/message-fields.js'

/** PostgreSQL refused a connection (wrong database, too many clients…): the ErrorResponse, as sent. */
export class UpstreamError extends Error {
  readonly fields: Record<string, string>
  constructor(readonly frame: Buffer) {
    const fields = readErrorFields(frame)
    super(fields.M ?? 'PostgreSQL refused the connection')
    this.fields = fields
  }
  get sqlstate(): string {
    return this.fields.C ?? '08006'
  }
}
