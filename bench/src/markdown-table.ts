export const fixed = (value: number | undefined, digits: number) => (value === undefined ? '–' : value.toFixed(digits))

/** A Markdown table with its columns padded to one width, as the formatter lays them out. */
export function alignedTable(header: readonly string[], right: readonly boolean[], rows: readonly string[][]): string {
  const width = (cell: string) => [...cell].length
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((row) => width(row[i] ?? ''))))
  const pad = (cell: string, i: number) => {
    const fill = ' '.repeat((widths[i] ?? 0) - width(cell))
    return right[i] ? fill + cell : cell + fill
  }
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`
  return [line(header), rule, ...rows.map(line)].join('\n')
}
