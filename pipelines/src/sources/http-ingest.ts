import { createHash } from 'node:crypto'
import { errors, isCairnError, type Logger } from '@cairn/core'
import { z } from 'zod'
import type { BronzeLoader } from '../bronze/bronze-loader.js'
import { canonicalJson, UNSTORABLE_MESSAGE, unstorableText } from './raw-records.js'

/**
 * Clickstream events over HTTP: the validation and the loading behind the ingest route, without the
 * HTTP framework (the API mounts it and passes the parsed JSON body, the Idempotency-Key header and
 * the body's size in bytes).
 *
 * A request is `{ "events": [...] }` or a bare array of 1..maxEvents events, each an object with
 * string `event_id` and `session_id`, an `event_type` among the five known ones and an `event_ts`
 * that is an ISO 8601 timestamp with an offset. Other fields are allowed and kept as received.
 *
 * All or nothing: one invalid event rejects the request (400, with every problem by event index and
 * field) and nothing is stored. A partial accept would leave the client unable to tell which events
 * to send again, and an idempotent retry of "the rest" under the same key would be taken for the
 * request already stored. Rejecting the whole request keeps one request = one batch = one answer.
 *
 * A valid request is one bronze batch in `bronze.clickstream_events`, id `<source>:<Idempotency-Key>`
 * (`http:…` with the default source name; the source is part of it so that two ingest endpoints never
 * take each other's keys for retries), or `<source>:<sha256 of the canonical events>` without a key. Sending the same request again (a client
 * retry after a timeout or a 503) stores nothing more and answers `duplicate: true`. A key identifies
 * the request: a new batch of events needs a new key, since events sent again under a used key are
 * taken for a retry and not stored.
 */

export const CLICKSTREAM_EVENT_TYPES = ['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'] as const

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i

function isIsoTimestamp(value: string): boolean {
  const m = ISO_TIMESTAMP.exec(value)
  if (!m) return false
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0)) as number[]
  const date = new Date(Date.UTC(year as number, (month as number) - 1, day))
  return (
    date.getUTCMonth() === (month as number) - 1 &&
    date.getUTCDate() === day &&
    (hour as number) < 24 &&
    (minute as number) < 60 &&
    (second as number) < 60
  )
}

export const clickstreamEventSchema = z.looseObject({
  event_id: z.string().min(1),
  session_id: z.string().min(1),
  event_type: z.enum(CLICKSTREAM_EVENT_TYPES),
  event_ts: z.string().refine(isIsoTimestamp, 'must be an ISO 8601 timestamp with offset, like 2025-03-01T12:00:00Z'),
})

export interface HttpIngestOptions {
  readonly loader: BronzeLoader
  /** The source name in bronze (`bronze_batches.source`). Default `http`. */
  readonly source?: string
  /** Most events in one request. Default 5000. */
  readonly maxEvents?: number
  /** Largest request body in bytes. Default 1 MiB. */
  readonly maxBytes?: number
  readonly log?: Logger
}

export interface HttpIngestRequest {
  /** The parsed JSON body. */
  readonly body: unknown
  /** The Idempotency-Key header, when the client sent one. */
  readonly idempotencyKey?: string
  /** The size of the body as received; measured from `body` when absent. */
  readonly bytes?: number
}

export interface HttpIngestIssue {
  /** The event's index in the request, or null for a problem with the request as a whole. */
  readonly index: number | null
  /** The field, dotted (`event_ts`, `props.items.0`); empty for the event itself. */
  readonly path: string
  readonly message: string
}

export interface HttpIngestResponse {
  readonly status: number
  readonly body: object
}

export interface HttpIngest {
  handle(request: HttpIngestRequest): Promise<HttpIngestResponse>
}

export const CLICKSTREAM_ENTITY = 'clickstream_events'
const MAX_ISSUES = 100
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export function createHttpIngest(options: HttpIngestOptions): HttpIngest {
  const { loader, source = 'http', maxEvents = 5000, maxBytes = 1024 * 1024, log } = options
  if (source.length === 0) throw errors.CONFIG_INVALID('http ingest: the source name is empty')
  if (!Number.isInteger(maxEvents) || maxEvents < 1) throw errors.CONFIG_INVALID(`http ingest: maxEvents ${maxEvents}`)
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw errors.CONFIG_INVALID(`http ingest: maxBytes ${maxBytes}`)

  const reject = (status: number, message: string, issues?: HttpIngestIssue[]): HttpIngestResponse => {
    const error = errors.PIPELINE_INGEST_REJECTED(message)
    return {
      status,
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(issues ? { issues: issues.slice(0, MAX_ISSUES), issueCount: issues.length } : {}),
        },
      },
    }
  }

  return {
    async handle(request) {
      const { body, idempotencyKey } = request
      let bytes = request.bytes
      if (bytes === undefined) {
        try {
          bytes = Buffer.byteLength(JSON.stringify(body) ?? '')
        } catch (err) {
          return reject(400, 'the body is not JSON', [{ index: null, path: '', message: (err as Error).message }])
        }
      }
      if (bytes > maxBytes) return reject(413, `the body is ${bytes} bytes; at most ${maxBytes} are accepted`)
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        return reject(400, 'the idempotency key must be 1 to 255 visible ASCII characters', [
          { index: null, path: 'Idempotency-Key', message: 'invalid idempotency key' },
        ])
      }
      const events = Array.isArray(body)
        ? body
        : body !== null && typeof body === 'object' && Array.isArray((body as { events?: unknown }).events)
          ? ((body as { events: unknown[] }).events as unknown[])
          : undefined
      if (events === undefined) {
        return reject(400, 'the body must be { "events": [ ... ] } or an array of events', [
          { index: null, path: 'events', message: 'expected an array of events' },
        ])
      }
      if (events.length === 0) {
        return reject(400, 'no events', [{ index: null, path: 'events', message: 'at least one event is required' }])
      }
      if (events.length > maxEvents) {
        return reject(413, `${events.length} events in one request; at most ${maxEvents} are accepted`)
      }

      const issues: HttpIngestIssue[] = []
      events.forEach((event, index) => {
        const parsed = clickstreamEventSchema.safeParse(event)
        if (!parsed.success) {
          for (const issue of parsed.error.issues) {
            issues.push({ index, path: issue.path.map(String).join('.'), message: issue.message })
          }
          return
        }
        const where = unstorableText(event)
        if (where !== undefined) issues.push({ index, path: where.replace(/^\$\.?/, ''), message: UNSTORABLE_MESSAGE })
      })
      if (issues.length > 0) {
        const events = new Set(issues.map((i) => i.index)).size
        return reject(400, `${events} invalid event${events === 1 ? '' : 's'}; nothing was stored`, issues)
      }

      const hash = createHash('sha256').update(canonicalJson(events)).digest('hex')
      const batchId = `${source}:${idempotencyKey ?? hash}`
      try {
        const result = await loader.load(source, {
          id: batchId,
          entity: CLICKSTREAM_ENTITY,
          records: events,
          position: `sha256:${hash}`,
        })
        return { status: 202, body: { accepted: events.length, batchId, duplicate: !result.loaded } }
      } catch (err) {
        if (isCairnError(err) && err.statusCode < 500) return reject(400, err.message)
        log?.error({ err, batchId }, 'http ingest: bronze could not store a batch')
        const error = errors.DATABASE_UNAVAILABLE(
          'bronze could not store the events; they may not have been stored, and sending the same request again is safe',
        )
        return { status: 503, body: { error: { code: error.code, message: error.message, batchId } } }
      }
    },
  }
}
