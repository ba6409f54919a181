import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { csvRow } from './csv-row.js'
import { generate } from './generate.js'
import type { GeneratedChunk, GenerationSummary } from './generation-summary.js'
import type { EntityName, GeneratorOptions } from './generator-options.js'
import { csvColumns } from './raw-record.js'

/** File format: CSV with a header row, or JSON Lines (one record per line). */
export type OutputFormat = 'csv' | 'jsonl'

export interface WriteFilesOptions {
  readonly format: OutputFormat
  /**
   * `split` (default): one file per entity and part, `<entity>-<part, 4 digits>.<ext>`
   * (`orders-0003.csv`), so the data can be loaded part by part. `single`: one file per entity,
   * `<entity>.<ext>`.
   */
  readonly parts?: 'split' | 'single'
}

/** What {@link writeFiles} wrote: the generation summary, the files (paths, in order of creation), the time. */
export interface WriteFilesResult extends GenerationSummary {
  readonly files: string[]
  readonly ms: number
}

/**
 * Bytes a file stream buffers before `write()` asks to wait: large enough that generating the next
 * chunks overlaps with writing the last ones (7 entity files open at a time: 28 MiB at most).
 */
const STREAM_BUFFER = 4 * 1024 * 1024

/** A file being written: a write stream with backpressure and its first error kept. */
class OutputFile {
  private readonly stream: WriteStream
  private error: Error | undefined

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { highWaterMark: STREAM_BUFFER })
    this.stream.on('error', (error) => {
      this.error ??= error
    })
  }

  /** Writes text; waits for `drain` when the stream's buffer is full. */
  async write(text: string): Promise<void> {
    if (this.error) throw this.error
    if (!this.stream.write(text)) await once(this.stream, 'drain')
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (this.error) throw this.error
    await new Promise<void>((resolve, reject) => {
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve()))
    })
    if (this.error) throw this.error
  }
}

/** The text of a chunk: CSV lines for the columns, or JSON lines; each line ends with `\n`. */
function encode(chunk: GeneratedChunk, format: OutputFormat, columns: readonly string[]): string {
  const lines =
    format === 'csv' ? chunk.records.map((r) => csvRow(r, columns)) : chunk.records.map((r) => JSON.stringify(r))
  lines.push('')
  return lines.join('\n')
}

/**
 * Generates the data set into files in `dir` (created when missing; files of the same names are
 * overwritten), streaming: one chunk at a time, waiting for the disk when a stream is full.
 *
 * CSV files have a header row: the entity's contract fields, then the fields schema drift brings to
 * it (customers `email_address`, `loyalty_tier`; products `list_price`; orders `amount_total`,
 * `coupon_code`; clickstream events `utm_campaign`). An empty cell means the field is absent from the
 * record (or null): a renamed field leaves its old column empty, a missing field its own. JSONL keeps
 * each record exactly as generated. A file is created only for an entity and part that has records.
 */
export async function writeFiles(
  options: GeneratorOptions,
  dir: string,
  output: WriteFilesOptions,
): Promise<WriteFilesResult> {
  const t0 = performance.now()
  const split = (output.parts ?? 'split') === 'split'
  const extension = output.format
  await mkdir(dir, { recursive: true })
  const generation = generate(options)
  const open = new Map<string, OutputFile>()
  const columns = new Map<EntityName, readonly string[]>()
  const files: string[] = []
  let part = -1
  const closeAll = async (): Promise<void> => {
    const closing = [...open.values()]
    open.clear()
    await Promise.all(closing.map((f) => f.close()))
  }
  try {
    for (const chunk of generation) {
      if (split && chunk.part !== part) {
        await closeAll()
        part = chunk.part
      }
      const name = split
        ? `${chunk.entity}-${String(chunk.part).padStart(4, '0')}.${extension}`
        : `${chunk.entity}.${extension}`
      let entityColumns = columns.get(chunk.entity)
      if (!entityColumns) {
        entityColumns = csvColumns(chunk.entity)
        columns.set(chunk.entity, entityColumns)
      }
      let file = open.get(name)
      if (!file) {
        file = new OutputFile(join(dir, name))
        open.set(name, file)
        files.push(file.path)
        if (output.format === 'csv') await file.write(`${entityColumns.join(',')}\n`)
      }
      await file.write(encode(chunk, output.format, entityColumns))
    }
  } finally {
    await closeAll()
  }
  return { ...generation.summary, files, ms: Math.round(performance.now() - t0) }
}
