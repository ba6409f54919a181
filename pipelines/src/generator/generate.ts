import { runGeneration } from './generation-run.js'
import type { GeneratedChunk, GenerationSummary } from './generation-summary.js'
import { type GeneratorOptions, type ResolvedGeneratorOptions, resolveGeneratorOptions } from './generator-options.js'

export type { GeneratedChunk, GenerationSummary } from './generation-summary.js'

/**
 * A seeded generation of the e-commerce data set: iterate it for the chunks (each iteration runs the
 * generator again from the start and yields the same chunks), then read {@link Generation.summary}.
 */
export class Generation implements Iterable<GeneratedChunk> {
  /** The options with their defaults. */
  readonly options: ResolvedGeneratorOptions
  private last: GenerationSummary | undefined

  constructor(options: GeneratorOptions) {
    this.options = resolveGeneratorOptions(options)
  }

  *[Symbol.iterator](): Generator<GeneratedChunk, void, undefined> {
    this.last = undefined
    yield* runGeneration(this.options, (summary) => {
      this.last = summary
    })
  }

  /** What the last complete iteration emitted; throws before an iteration has run to the end. */
  get summary(): GenerationSummary {
    if (!this.last) throw new Error('the generation has not been iterated to the end yet')
    return this.last
  }
}

/**
 * The generator: chunks of raw records (customers, products, orders, order items, payments, returns,
 * clickstream events) over a timeline of days, deterministic for a seed, in bounded memory, with the
 * dirt of the options injected. Validates the options (throws a ZodError).
 *
 * @example
 * const generation = generate({ orders: 10_000 })
 * for (const chunk of generation) load(chunk.entity, chunk.part, chunk.records)
 * console.log(generation.summary.records.orders)
 */
export function generate(options: GeneratorOptions): Generation {
  return new Generation(options)
}
