import { createHash } from 'node:crypto'
import { type FileHandle, open, readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { type Readable, Transform } from 'node:stream'
import { errors, type Logger } from '@cairn/core'
import { defineSourcePlugin, type SourceBatch } from '@cairn/plugins'
import { parse } from 'csv-parse'
import { z } from 'zod'
import { ENTITY_NAME, recordFromJson, UNSTORABLE_MESSAGE, unparseable, unstorableText } from './raw-records.js'

/**
 * The files source: a directory of CSV and JSONL files, each loaded once.
 *
 * - A file is identified by its name and the sha256 of its content. Once its last batch is in bronze,
 *   the checkpoint `name → checksum` (stored in the same transaction) makes later runs skip it.
 * - A file that changes after it was loaded (same name, new checksum) is loaded again, in full, as a new
 *   version with new batch ids: bronze is append-only and keeps both; silver collapses the records that
 *   did not change (same key and version) and applies the ones that did.
 * - The same content under another name is another file, and is loaded again.
 * - A run that stops in the middle of a file (crash, abort) reloads that file on the next run; the
 *   batches already committed have the same ids and are skipped, so every record is in bronze once —
 *   as long as `batchSize` is not changed in between (the batch boundaries would move).
 * - A JSONL line that is not valid JSON, or not an object, and a CSV row whose number of fields differs
 *   from the header, become `{ "_unparseable": "<raw text>", "_error": "<why>" }` records in the batch:
 *   nothing is lost, the run goes on, and silver quarantines them.
 * - A CSV file that cannot be parsed at all (an unclosed or misplaced quote, a duplicate column name) is
 *   not loaded: it is checked before its first batch, logged as an error and skipped, and loaded once
 *   fixed (its checksum changes). A CSV error does not say reliably where the damaged row ends.
 * - Empty CSV cells mean "absent": the key is left out of the record. Everything else is kept as text,
 *   exactly as received (silver casts).
 * - Files should appear atomically (written elsewhere, then renamed into the directory). A file that
 *   changes while it is being read fails the run with CAIRN_ERR_PIPELINE_SOURCE_FAILED before its last
 *   batch, so it is never marked loaded under a checksum that does not match what was loaded.
 */

export const DEFAULT_FILES_PATTERN = '*.{csv,jsonl,ndjson}'
export const DEFAULT_ENTITY_FROM_NAME = '^([a-z][a-z0-9_]*?)(?:-\\d+)?\\.(csv|jsonl|ndjson)$'

/** `/source/flags` is a regular expression; anything else a glob where `*`, `?` and `{a,b}` are special. */
export function compileFilePattern(pattern: string): RegExp {
  const regex = /^\/(.+)\/([dgimsuvy]*)$/.exec(pattern)
  if (regex) return new RegExp(regex[1] as string, (regex[2] as string).replace(/[gy]/g, ''))
  let source = ''
  let inGroup = false
  for (const ch of pattern) {
    if (ch === '*') source += '[^/]*'
    else if (ch === '?') source += '[^/]'
    else if (ch === '{' && !inGroup) {
      source += '(?:'
      inGroup = true
    } else if (ch === '}' && inGroup) {
      source += ')'
      inGroup = false
    } else if (ch === ',' && inGroup) source += '|'
    else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  if (inGroup) throw new SyntaxError(`unclosed "{" in ${JSON.stringify(pattern)}`)
  return new RegExp(`^${source}$`)
}

function compileEntityPattern(pattern: string): RegExp {
  const regex = /^\/(.+)\/([dimsuv]*)$/.exec(pattern)
  return regex ? new RegExp(regex[1] as string, regex[2]) : new RegExp(pattern)
}

function problem(compile: () => RegExp, check?: (re: RegExp) => string | undefined): string | undefined {
  try {
    return check?.(compile())
  } catch (err) {
    return (err as Error).message
  }
}

const filesConfigSchema = z.strictObject({
  dir: z.string().min(1),
  pattern: z
    .string()
    .min(1)
    .superRefine((p, ctx) => {
      const message = problem(() => compileFilePattern(p))
      if (message) ctx.addIssue({ code: 'custom', message: `invalid pattern: ${message}` })
    })
    .optional(),
  batchSize: z.number().int().min(1).max(1_000_000).default(5000),
  entityFromName: z
    .string()
    .min(1)
    .superRefine((p, ctx) => {
      const message = problem(
        () => compileEntityPattern(p),
        (re) =>
          (new RegExp(`${re.source}|`).exec('')?.length ?? 0) < 2 ? 'needs a capture group for the entity' : undefined,
      )
      if (message) ctx.addIssue({ code: 'custom', message: `invalid entityFromName: ${message}` })
    })
    .default(DEFAULT_ENTITY_FROM_NAME),
})

export type FilesSourceConfig = z.output<typeof filesConfigSchema>

type Format = 'csv' | 'jsonl'

interface Item {
  readonly record: unknown
  readonly first: number
  readonly last: number
}

export const filesSource = defineSourcePlugin({
  meta: {
    name: 'files',
    version: '1.0.0',
    description: 'A directory of CSV and JSONL files; each file is loaded once (name + sha256)',
  },
  configSchema: filesConfigSchema,
  create(config, { log, instance }) {
    const dir = resolve(config.dir)
    const pattern = compileFilePattern(config.pattern ?? DEFAULT_FILES_PATTERN)
    const entityPattern = compileEntityPattern(config.entityFromName)
    return {
      async *read(ctx) {
        const entries = await readdir(dir, { withFileTypes: true }).catch((cause: unknown) => {
          throw errors.PIPELINE_SOURCE_FAILED(`files source: cannot list ${dir}: ${(cause as Error).message}`, {
            cause,
          })
        })
        const names: string[] = []
        for (const e of entries) {
          if (e.isFile() || (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => undefined))?.isFile()))
            names.push(e.name)
        }
        names.sort()
        for (const name of names) {
          if (ctx.signal.aborted) return
          if (!pattern.test(name)) {
            log.debug({ file: name }, 'files source: not matched by the pattern, ignored')
            continue
          }
          const entity = entityPattern.exec(name)?.[1]
          if (entity === undefined || !ENTITY_NAME.test(entity)) {
            log.warn(
              { file: name, dir, entityFromName: entityPattern.source, entity },
              entity === undefined
                ? `files source: skipping ${name}: its name does not match entityFromName, so its entity is unknown`
                : `files source: skipping ${name}: entity ${JSON.stringify(entity)} is not a valid bronze table name`,
            )
            continue
          }
          const format = formatOf(name)
          if (format === undefined) {
            log.warn({ file: name }, `files source: skipping ${name}: only .csv, .jsonl and .ndjson files are read`)
            continue
          }
          const handle = await open(join(dir, name), 'r').catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return undefined
            throw err
          })
          if (handle === undefined) {
            log.warn({ file: name }, `files source: ${name} was removed before it could be read`)
            continue
          }
          try {
            const checksum = await sha256(fromStart(handle))
            if (ctx.checkpoints.get(name) === checksum) {
              log.debug({ file: name, checksum }, 'files source: already loaded')
              continue
            }
            if (format === 'csv') {
              const reason = await csvProblem(fromStart(handle))
              if (reason !== undefined) {
                log.error(
                  { file: name, checksum, reason },
                  `files source: ${name} is not valid CSV (${reason}); not loaded — it is loaded once fixed`,
                )
                continue
              }
            }
            yield* fileBatches({ handle, name, entity, format, checksum, instance, batchSize: config.batchSize, log })
          } finally {
            await handle.close()
          }
        }
      },
    }
  },
})

function formatOf(name: string): Format | undefined {
  if (/\.csv$/i.test(name)) return 'csv'
  if (/\.(jsonl|ndjson)$/i.test(name)) return 'jsonl'
  return undefined
}

function fromStart(handle: FileHandle): Readable {
  return handle.createReadStream({ start: 0, autoClose: false, emitClose: false })
}

async function sha256(stream: Readable): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function* fileBatches(file: {
  handle: FileHandle
  name: string
  entity: string
  format: Format
  checksum: string
  instance: string
  batchSize: number
  log: Logger
}): AsyncGenerator<SourceBatch> {
  const { name, entity, checksum, batchSize } = file
  const stream = fromStart(file.handle)
  const hash = createHash('sha256')
  const hashed = stream.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk)
        done(null, chunk)
      },
    }),
  )
  const items = file.format === 'csv' ? csvItems(hashed) : jsonlItems(hashed)
  const batch = (no: number, chunk: Item[], last: boolean): SourceBatch => {
    const first = chunk[0]
    const end = chunk[chunk.length - 1]
    return {
      id: `files:${file.instance}:${name}:${checksum.slice(0, 16)}:${no}`,
      entity,
      records: chunk.map((i) => i.record),
      position: `${name}:${first?.first ?? 0}-${end?.last ?? 0}`,
      ...(last ? { checkpoint: { key: name, value: checksum } } : {}),
    }
  }
  let no = 1
  let chunk: Item[] = []
  try {
    for await (const item of items) {
      if (chunk.length === batchSize) {
        yield batch(no++, chunk, false)
        chunk = []
      }
      chunk.push(item)
    }
  } finally {
    stream.destroy()
    hashed.destroy()
  }
  const actual = hash.digest('hex')
  if (actual !== checksum) {
    throw errors.PIPELINE_SOURCE_FAILED(
      `files source: ${name} changed while it was being read (sha256 ${checksum.slice(0, 16)}… before, ` +
        `${actual.slice(0, 16)}… after); write files elsewhere and rename them into the directory`,
    )
  }
  file.log.info({ file: name, checksum, batches: no }, `files source: read ${name}`)
  yield batch(no, chunk, true)
}

interface CsvChunk {
  record: string[]
  raw: string
  info: { lines: number }
}

/** Rows of a CSV file as records keyed by the header; throws on what cannot be parsed. */
async function* csvItems(stream: Readable): AsyncGenerator<Item> {
  const parser = stream.pipe(
    parse({ bom: true, columns: false, relax_column_count: true, skip_empty_lines: true, info: true, raw: true }),
  )
  let header: string[] | undefined
  for await (const { record: fields, raw, info } of parser as AsyncIterable<CsvChunk>) {
    const text = raw.replace(/^[\r\n]+|[\r\n]+$/g, '')
    const last = info.lines
    const first = last - (text.match(/\n/g)?.length ?? 0)
    if (header === undefined) {
      const seen = new Set<string>()
      for (const column of fields) {
        if (seen.has(column)) throw new Error(`column ${JSON.stringify(column)} appears twice in the header`)
        seen.add(column)
      }
      header = fields
      continue
    }
    if (fields.length !== header.length) {
      const error = `row has ${fields.length} fields, the header has ${header.length}`
      yield { record: unparseable(text, error), first, last }
      continue
    }
    const record: Record<string, string> = {}
    for (let i = 0; i < header.length; i++) {
      const value = fields[i] as string
      if (value !== '') record[header[i] as string] = value
    }
    const where = unstorableText(record)
    yield { record: where === undefined ? record : unparseable(text, `${where} ${UNSTORABLE_MESSAGE}`), first, last }
  }
}

/** Why a CSV file cannot be loaded, or undefined. Reads it once, the same way the load does. */
async function csvProblem(stream: Readable): Promise<string | undefined> {
  try {
    for await (const _ of csvItems(stream)) {
      // Parsing is the check.
    }
    return undefined
  } catch (err) {
    stream.destroy()
    return (err as Error).message
  }
}

/** One record per non-blank line; lines that are not JSON objects become `_unparseable` records. */
async function* jsonlItems(stream: Readable): AsyncGenerator<Item> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
  let lineNo = 0
  for await (const line of lines) {
    lineNo++
    const text = lineNo === 1 && line.startsWith('\ufeff') ? line.slice(1) : line
    if (text.trim() === '') continue
    yield { record: recordFromJson(text), first: lineNo, last: lineNo }
  }
}
