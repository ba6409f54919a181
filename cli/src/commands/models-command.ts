import { readFile } from 'node:fs/promises'
import { activateModel, importOnnxModel, listModels, trainModelNow } from '@cairn/agents'
import type { Logger } from '@cairn/core'
import { withDatabase } from '../database-context.js'
import { textTable } from './text-table.js'

const q = (metrics: Record<string, unknown>, which: 'medianQError' | 'p90QError'): string => {
  const value = (metrics.heldOut as Record<string, unknown> | undefined)?.[which]
  return typeof value === 'number' ? value.toFixed(2) : '-'
}
const day = (d: Date | undefined) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) : '-')

export const modelsCommands = {
  /** Every version in the registry with its training window and held-out accuracy; `*` marks the active one. */
  list: (logger: Logger) =>
    withDatabase(logger, async ({ pool }) => {
      const versions = await listModels(pool)
      if (versions.length === 0) {
        process.stdout.write(
          'No model is registered yet: the latency-predictor agent trains one once it has sampled enough statements\n' +
            '(or run `cairn models train latency` when samples are stored).\n',
        )
        return 0
      }
      process.stdout.write(
        `${textTable(
          [
            'model',
            'version',
            'active',
            'algorithm',
            'samples',
            'trained on',
            'median q-error',
            'p90 q-error',
            'created',
          ],
          versions.map((v) => [
            v.name,
            v.version,
            v.active ? '*' : '',
            v.algorithm,
            v.sampleCount,
            `${day(v.trainedFrom)} → ${day(v.trainedTo)}`,
            q(v.metrics, 'medianQError'),
            q(v.metrics, 'p90QError'),
            day(v.createdAt),
          ]),
        )}\n`,
      )
      return 0
    }),

  /** Trains a new version from the stored samples now; activates it unless it is worse than the active one. */
  train: (logger: Logger, model: string, opts: { activate: 'if-not-worse' | 'always' | 'never' }) =>
    withDatabase(logger, async ({ pool }) => {
      const outcome = await trainModelNow(pool, model, { activation: opts.activate })
      process.stdout.write(`${outcome.reason}\n`)
      return 0
    }),

  /** Makes a version the active one; a running Cairn picks it up within its registry poll (30 s). */
  activate: (logger: Logger, version: number, opts: { model: string }) =>
    withDatabase(logger, async ({ pool }) => {
      const v = await activateModel(pool, opts.model, version)
      process.stdout.write(`${v.name} v${v.version} is now active (a running Cairn loads it within 30 s).\n`)
      return 0
    }),

  /** Registers an ONNX model trained elsewhere (input `features` float32 [N, 47] in planFeatureNames order). */
  import: (logger: Logger, file: string, opts: { model: string; output: 'ln_ms' | 'ms'; activate: boolean }) =>
    withDatabase(logger, async ({ pool }) => {
      const v = await importOnnxModel(pool, {
        onnx: new Uint8Array(await readFile(file)),
        name: opts.model,
        output: opts.output,
        activate: opts.activate,
      })
      process.stdout.write(`imported ${file} as ${v.name} v${v.version}${v.active ? ' (active)' : ''}\n`)
      return 0
    }),
}
