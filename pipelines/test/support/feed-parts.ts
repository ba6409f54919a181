import { copyFile, mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Copies files written by `writeFiles(…, { parts: 'split' })` into `inbox` one part (time slice)
 * at a time, calling `afterPart` after each, as if the data arrived over time. Returns the parts.
 */
export async function feedPartByPart(
  generatedDir: string,
  inbox: string,
  afterPart: (part: string) => Promise<void>,
): Promise<string[]> {
  await mkdir(inbox, { recursive: true })
  const files = (await readdir(generatedDir)).sort()
  const parts = [...new Set(files.map((f) => /-(\d{4})\./.exec(f)?.[1]).filter((p) => p !== undefined))].sort()
  for (const part of parts) {
    for (const f of files.filter((name) => name.includes(`-${part}.`)))
      await copyFile(join(generatedDir, f), join(inbox, f))
    await afterPart(part)
  }
  return parts
}
