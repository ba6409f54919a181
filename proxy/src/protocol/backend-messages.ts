import { Auth, Backend, TxStatus } from './message-codes.js'
import { MessageWriter } from './message-writer.js'

export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE'
  /** A real SQLSTATE: https://www.postgresql.org/docs/15/errcodes-appendix.html */
  code: string
  message: string
  detail?: string
  hint?: string
}

/** ErrorResponse (or NoticeResponse) with the fields PostgreSQL always sends: S, V, C, M. */
export function errorResponse(f: ErrorFields, type: number = Backend.ErrorResponse): Buffer {
  const w = new MessageWriter()
  w.byte(0x53).cstring(f.severity) // S: localized severity
  w.byte(0x56).cstring(f.severity) // V: non-localized severity
  w.byte(0x43).cstring(f.code) // C: SQLSTATE
  w.byte(0x4d).cstring(f.message) // M: message
  if (f.detail) w.byte(0x44).cstring(f.detail) // D: detail
  if (f.hint) w.byte(0x48).cstring(f.hint) // H: hint
  return w.byte(0).frame(type)
}

export const authenticationOk = (): Buffer => new MessageWriter().int32(Auth.Ok).frame(Backend.Authentication)

export const authenticationMD5 = (salt: Buffer): Buffer =>
  new MessageWriter().int32(Auth.MD5Password).bytes(salt).frame(Backend.Authentication)

export const authenticationSASL = (mechanisms: readonly string[]): Buffer => {
  const w = new MessageWriter().int32(Auth.SASL)
  for (const m of mechanisms) w.cstring(m)
  return w.byte(0).frame(Backend.Authentication)
}

export const authenticationSASLContinue = (data: string): Buffer =>
  new MessageWriter().int32(Auth.SASLContinue).bytes(Buffer.from(data)).frame(Backend.Authentication)

export const authenticationSASLFinal = (data: string): Buffer =>
  new MessageWriter().int32(Auth.SASLFinal).bytes(Buffer.from(data)).frame(Backend.Authentication)

export const parameterStatus = (name: string, value: string): Buffer =>
  new MessageWriter().cstring(name).cstring(value).frame(Backend.ParameterStatus)

export const backendKeyData = (pid: number, key: number): Buffer =>
  new MessageWriter().int32(pid).int32(key).frame(Backend.BackendKeyData)

export const readyForQuery = (status: number = TxStatus.Idle): Buffer =>
  new MessageWriter().byte(status).frame(Backend.ReadyForQuery)

export const parseComplete = (): Buffer => new MessageWriter().frame(Backend.ParseComplete)
export const closeComplete = (): Buffer => new MessageWriter().frame(Backend.CloseComplete)
export const bindComplete = (): Buffer => new MessageWriter().frame(Backend.BindComplete)
