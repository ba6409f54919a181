import type { RawRecord } from './raw-record.js'

/** Characters that need a quoted CSV field, or leading/trailing white space (kept by quoting). */
const needsQuotes = /[",\r\n]|^\s|\s$/

/**
 * One CSV field: empty for null and undefined (an absent field), numbers as JavaScript prints them,
 * text quoted when it holds a comma, a quote, a line break or leading/trailing white space (RFC 4180,
 * quotes doubled).
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return String(value)
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return needsQuotes.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** One CSV line (without line break) of the record's values for the columns, in column order. */
export function csvRow(record: RawRecord, columns: readonly string[]): string {
  const cells = new Array<string>(columns.length)
  for (let i = 0; i < columns.length; i++) cells[i] = csvField(record[columns[i] as string])
  return cells.join(',')
}
