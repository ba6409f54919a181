/**
 * One row of PostgreSQL's COPY text format. Values are escaped as COPY requires
 * (backslash, tab, newline, carriage return); `null` becomes `\N`.
 */
export function copyTextRow(values: readonly (string | number | null)[]): string {
  let line = ''
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (i > 0) line += '\t'
    line += v === null || v === undefined ? '\\N' : escapeCopyText(String(v))
  }
  return `${line}\n`
}

const SPECIAL = /[\\\t\n\r]/

export function escapeCopyText(value: string): string {
  if (!SPECIAL.test(value)) return value
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
}
