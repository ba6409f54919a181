import type { FingerprintProfile } from './fingerprint-tally.js'
import type { TemplateShape } from './template-shape.js'

/**
 * The features of a template, in order. Each is standardized (z-score), then
 * multiplied by its `scale`: what a template is (its parse tree) and how it runs
 * count fully (the mean and median row counts, nearly the same measure, weigh
 * as one feature together); when it arrives counts half, so two lookups of the
 * same shape at different rates still land together. `resolution` is the least standard
 * deviation a feature is divided by: z-scoring would otherwise blow a small
 * spread (one predicate more, over templates that all have one or two) up into
 * a split of its own. Counts are ln(1 + n), rows and durations ln(1 + x).
 */
export const TEMPLATE_FEATURES = [
  { name: 'kind.read', scale: 1, resolution: 0.5 },
  { name: 'kind.write', scale: 1, resolution: 0.5 },
  { name: 'kind.other', scale: 1, resolution: 0.5 },
  { name: 'relations', scale: 1, resolution: 0.5 },
  { name: 'joins', scale: 1, resolution: 0.5 },
  { name: 'aggregates', scale: 1, resolution: 0.5 },
  { name: 'groupBy', scale: 1, resolution: 0.5 },
  { name: 'orderBy', scale: 1, resolution: 0.5 },
  { name: 'predicates', scale: 1, resolution: 0.5 },
  { name: 'limit', scale: 1, resolution: 0.5 },
  { name: 'subqueries', scale: 1, resolution: 0.5 },
  { name: 'rows.meanLog', scale: Math.SQRT1_2, resolution: 1 },
  { name: 'rows.medianLog', scale: Math.SQRT1_2, resolution: 1 },
  { name: 'duration.meanLog', scale: 1, resolution: 1 },
  { name: 'arrivals.logRate', scale: 0.5, resolution: 1 },
  { name: 'arrivals.burstiness', scale: 0.5, resolution: 0.25 },
] as const

/** A template's raw features, in `TEMPLATE_FEATURES` order; counts are log-damped so one huge query does not dominate. */
export function templateFeatures(shape: TemplateShape, profile: FingerprintProfile): number[] {
  const write = shape.kind === 'insert' || shape.kind === 'update' || shape.kind === 'delete'
  return [
    shape.kind === 'select' ? 1 : 0,
    write ? 1 : 0,
    shape.kind !== 'select' && !write ? 1 : 0,
    Math.log1p(shape.relations.length),
    Math.log1p(shape.joins),
    Math.log1p(shape.aggregates + shape.windows),
    Math.log1p(shape.groupBy),
    Math.log1p(shape.orderBy),
    Math.log1p(shape.predicates),
    shape.limit ? 1 : 0,
    Math.log1p(shape.subqueries),
    profile.meanLogRows,
    profile.medianLogRows,
    profile.meanLogDurationMs,
    Math.log1p(profile.ratePerHour),
    profile.burstiness,
  ]
}

/** How raw features map to clustering space: z-score, then each feature's scale. */
export interface FeatureScaling {
  readonly mean: readonly number[]
  readonly std: readonly number[]
  readonly scale: readonly number[]
}

/** Fits the z-scores on `rows`; a constant feature is centred to 0 and contributes nothing. */
export function fitFeatureScaling(rows: readonly (readonly number[])[]): FeatureScaling {
  const dims = TEMPLATE_FEATURES.length
  const mean = new Array<number>(dims).fill(0)
  const std = new Array<number>(dims).fill(0)
  for (const row of rows) for (let d = 0; d < dims; d++) mean[d] = (mean[d] as number) + (row[d] as number)
  for (let d = 0; d < dims; d++) mean[d] = (mean[d] as number) / Math.max(1, rows.length)
  for (const row of rows) {
    for (let d = 0; d < dims; d++) std[d] = (std[d] as number) + ((row[d] as number) - (mean[d] as number)) ** 2
  }
  for (let d = 0; d < dims; d++) {
    const s = Math.sqrt((std[d] as number) / Math.max(1, rows.length))
    std[d] = Math.max(s, (TEMPLATE_FEATURES[d] as (typeof TEMPLATE_FEATURES)[number]).resolution)
  }
  return { mean, std, scale: TEMPLATE_FEATURES.map((f) => f.scale) }
}

export function scaleFeatures(row: readonly number[], scaling: FeatureScaling): number[] {
  return row.map(
    (x, d) => ((x - (scaling.mean[d] as number)) / (scaling.std[d] as number)) * (scaling.scale[d] as number),
  )
}
