import { createHash } from 'node:crypto'
import { defineSourcePlugin, type SourceBatch } from '@cairn/plugins'
import { type GeneratedChunk, generate } from '../generator/generate.js'
import { generatorOptionsSchema, type ResolvedGeneratorOptions } from '../generator/generator-options.js'
import { canonicalJson } from './raw-records.js'

/**
 * The e-commerce data generator as a source: its configuration is the generator's options, and one
 * run loads the whole generated data set, one batch per generated chunk, into the bronze tables of
 * the seven raw entities.
 *
 * The generator is deterministic for its options, so the batch ids
 * (`generator:<instance>:<hash of the resolved options>:<entity>:<n>`) are stable: a run that stops
 * half way generates again from the start on the next run and loads only the batches not yet in
 * bronze. The last batch stores the checkpoint `generator` = `<hash>:complete`; after it, a run with
 * the same options yields nothing. Other options (another seed, more orders) are another data set,
 * generated and loaded in full next to the first. A change of the generator's code that changes its
 * output for the same options is not noticed: use another seed, or another instance.
 */

export const generatorSource = defineSourcePlugin({
  meta: {
    name: 'generator',
    version: '1.0.0',
    description: 'The seeded e-commerce data generator (customers … clickstream), with dirt',
  },
  configSchema: generatorOptionsSchema,
  create(options, { log, instance }) {
    const hash = optionsHash(options)
    const complete = `${hash}:complete`
    return {
      async *read(ctx) {
        if (ctx.checkpoints.get('generator') === complete) {
          log.debug({ hash }, 'generator source: this data set is already loaded')
          return
        }
        const counts = new Map<string, number>()
        const batch = (chunk: GeneratedChunk, last: boolean): SourceBatch => {
          const n = (counts.get(chunk.entity) ?? 0) + 1
          counts.set(chunk.entity, n)
          return {
            id: `generator:${instance}:${hash}:${chunk.entity}:${n}`,
            entity: chunk.entity,
            records: chunk.records,
            position: `seed ${options.seed} part ${chunk.part}`,
            ...(last ? { checkpoint: { key: 'generator', value: complete } } : {}),
          }
        }
        let held: GeneratedChunk | undefined
        for (const chunk of generate(options)) {
          if (held) yield batch(held, false)
          if (ctx.signal.aborted) return
          held = chunk
        }
        if (held) yield batch(held, true)
        log.info({ hash, batches: Object.fromEntries(counts) }, 'generator source: data set generated')
      },
    }
  },
})

/** The first 16 hex digits of the sha256 of the resolved options, defaults included. */
export function optionsHash(options: ResolvedGeneratorOptions): string {
  return createHash('sha256').update(canonicalJson(options)).digest('hex').slice(0, 16)
}
